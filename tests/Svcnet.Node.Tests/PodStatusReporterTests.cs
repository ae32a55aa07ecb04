using k8s.Models;
using Svcnet.Node.Agent;

namespace Svcnet.Node.Tests;

/// <summary>The agent's status sender: one request at a time, the latest status of each pod, retries after failures.</summary>
public class PodStatusReporterTests
{
    private static V1PodStatus Status(string phase) => new() { Phase = phase };

    [Fact]
    public async Task Statuses_offered_while_a_send_is_in_flight_collapse_to_the_latest_and_keep_order()
    {
        var sent = new List<string>();
        var firstEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reporter = new PodStatusReporter(async (ns, name, status, _) =>
        {
            lock (sent)
            {
                sent.Add($"{ns}/{name}={status.Phase}");
            }
            if (status.Phase == "Pending")
            {
                firstEntered.TrySetResult();
                await releaseFirst.Task;
            }
            if (status.Phase == "Failed")
            {
                done.TrySetResult();
            }
        }, _ => { });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = reporter.RunAsync(cancel.Token);

        reporter.Offer("default", "web", Status("Pending"));
        await firstEntered.Task.WaitAsync(cancel.Token);
        // While the first PATCH is on the wire: two newer statuses of the same pod, and one of another pod.
        reporter.Offer("default", "web", Status("Running"));
        reporter.Offer("default", "db", Status("Succeeded"));
        reporter.Offer("default", "web", Status("Unknown"));
        reporter.Offer("default", "db", Status("Failed"));
        releaseFirst.SetResult();
        await done.Task.WaitAsync(cancel.Token);

        Assert.Equal(["default/web=Pending", "default/web=Unknown", "default/db=Failed"], sent);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    [Fact]
    public async Task A_failed_send_is_retried_unless_a_newer_status_replaced_it()
    {
        var attempts = new List<string>();
        var succeeded = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = 0;
        var logged = new List<string>();
        PodStatusReporter? reporter = null;
        reporter = new PodStatusReporter((_, _, status, _) =>
        {
            lock (attempts)
            {
                attempts.Add(status.Phase);
            }
            if (++failures <= 2)
            {
                if (failures == 1)
                {
                    reporter!.Offer("default", "web", Status("Unknown")); // newer than the one failing now
                }
                throw new HttpRequestException("connection refused");
            }
            succeeded.TrySetResult(status.Phase);
            return Task.CompletedTask;
        }, m => { lock (logged) { logged.Add(m); } }) { RetryDelay = TimeSpan.FromMilliseconds(10) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = reporter.RunAsync(cancel.Token);

        reporter.Offer("default", "web", Status("Running"));
        Assert.Equal("Unknown", await succeeded.Task.WaitAsync(cancel.Token));
        // The failed "Running" is not sent again: the newer "Unknown" replaced it, and is itself retried.
        Assert.Equal(["Running", "Unknown", "Unknown"], attempts);
        Assert.Equal(2, logged.Count);
        Assert.Contains("default/web", logged[0], StringComparison.Ordinal);
        Assert.Contains("connection refused", logged[0], StringComparison.Ordinal);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}
