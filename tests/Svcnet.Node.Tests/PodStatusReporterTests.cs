using System.Net;
using k8s.Autorest;
using k8s.Models;
using Svcnet.Node.Agent;

namespace Svcnet.Node.Tests;

/// <summary>The agent's status sender: one request at a time, the latest status of each pod, retries of transient failures only.</summary>
public class PodStatusReporterTests
{
    private static PodStatusReport Report(string name, string phase) => new("default", name, "uid-" + name, new V1PodStatus { Phase = phase });

    private static HttpOperationException Http(HttpStatusCode code) =>
        new($"Operation returned an invalid status code '{code}'") { Response = new HttpResponseMessageWrapper(new HttpResponseMessage(code), "{}") };

    /// <summary>Runs a reporter whose sends go through <paramref name="send"/>; returns it with a way to stop it.</summary>
    private static (PodStatusReporter Reporter, Func<Task> Stop, List<string> Log) Start(Func<PodStatusReport, Task> send)
    {
        var log = new List<string>();
        var reporter = new PodStatusReporter((r, _) => send(r), m => { lock (log) { log.Add(m); } }) { RetryDelay = TimeSpan.FromMilliseconds(20) };
        var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = reporter.RunAsync(cancel.Token);
        return (reporter, async () =>
        {
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            cancel.Dispose();
        }, log);
    }

    [Fact]
    public async Task Statuses_offered_while_a_send_is_in_flight_collapse_to_the_latest_and_keep_order()
    {
        var sent = new List<string>();
        var firstEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (reporter, stop, _) = Start(async r =>
        {
            lock (sent)
            {
                sent.Add($"{r.Name}={r.Status.Phase}");
            }
            if (r.Status.Phase == "Pending")
            {
                firstEntered.TrySetResult();
                await releaseFirst.Task;
            }
            if (r.Status.Phase == "Failed")
            {
                done.TrySetResult();
            }
        });

        reporter.Offer(Report("web", "Pending"));
        await firstEntered.Task.WaitAsync(TimeSpan.FromSeconds(20));
        // While the first PATCH is on the wire: two newer statuses of the same pod, and two of another pod.
        reporter.Offer(Report("web", "Running"));
        reporter.Offer(Report("db", "Succeeded"));
        reporter.Offer(Report("web", "Unknown"));
        reporter.Offer(Report("db", "Failed"));
        releaseFirst.SetResult();
        await done.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(["web=Pending", "web=Unknown", "db=Failed"], sent);
        await stop();
    }

    [Fact]
    public async Task A_transient_failure_is_retried_without_holding_up_other_pods_and_never_overtakes_a_newer_status()
    {
        var attempts = new List<string>();
        var webFailures = 0;
        var dbSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var webSent = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        PodStatusReporter? self = null;
        var (reporter, stop, log) = Start(r =>
        {
            lock (attempts)
            {
                attempts.Add($"{r.Name}={r.Status.Phase}");
            }
            if (r.Name == "db")
            {
                dbSent.TrySetResult();
                return Task.CompletedTask;
            }
            if (++webFailures <= 2)
            {
                if (webFailures == 2)
                {
                    self!.Offer(Report("web", "Unknown")); // newer than the one failing now: the retry must not resend "Running"
                }
                throw webFailures == 1 ? new HttpRequestException("connection refused") : Http(HttpStatusCode.ServiceUnavailable);
            }
            webSent.TrySetResult(r.Status.Phase);
            return Task.CompletedTask;
        });
        self = reporter;

        reporter.Offer(Report("web", "Running"));
        reporter.Offer(Report("db", "Running"));
        Assert.Equal("Unknown", await webSent.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(dbSent.Task.IsCompleted);
        await Task.Delay(100); // any stray retry of the older "Running" would have been sent by now

        lock (attempts)
        {
            // db went out while web waited for its retry; web's retry sent "Running" once more, then only the newer status.
            Assert.Equal(["web=Running", "db=Running", "web=Running", "web=Unknown"], attempts);
        }
        Assert.Equal(2, log.Count);
        Assert.Contains("pod default/web: status update failed, retrying: connection refused", log[0], StringComparison.Ordinal);
        await stop();
    }

    [Theory]
    [InlineData(HttpStatusCode.UnprocessableEntity)] // the pod was replaced under the same name: uid mismatch
    [InlineData(HttpStatusCode.NotFound)] // deleted meanwhile
    public async Task A_refused_status_is_dropped_not_retried(HttpStatusCode code)
    {
        var attempts = 0;
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (reporter, stop, log) = Start(r =>
        {
            Interlocked.Increment(ref attempts);
            if (r.Name == "next")
            {
                next.TrySetResult();
                return Task.CompletedTask;
            }
            throw Http(code);
        });

        reporter.Offer(Report("web", "Running"));
        await Task.Delay(200); // several retry delays
        reporter.Offer(Report("next", "Running"));
        await next.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(2, attempts);
        Assert.Equal(code == HttpStatusCode.NotFound ? 0 : 1, log.Count);
        if (code != HttpStatusCode.NotFound)
        {
            Assert.Contains("status update refused, dropped: 422", log[0], StringComparison.Ordinal);
        }
        await stop();
    }
}
