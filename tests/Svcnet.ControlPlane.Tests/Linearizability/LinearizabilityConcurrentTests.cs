using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests.Linearizability;

/// <summary>
/// The API server is linearizable per object: many concurrent clients create, get, update with a resourceVersion
/// precondition, merge-patch and delete (with and without precondition) a few ConfigMaps over HTTP while the single
/// writer is held again and again so that writes pile up into large group commits. Each key's history must have a
/// real-time-respecting order in which every answer is the sequential model's, and a watch must report exactly the
/// acknowledged writes, in resourceVersion order, with nothing missing and nothing extra.
/// </summary>
public sealed class LinearizabilityConcurrentTests
{
    private const string Ns = "lin";
    private static readonly string[] Keys = ["k0", "k1", "k2"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Concurrent_clients_under_group_commit_pressure_see_a_linearizable_history(int round)
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        await server.Server.Registry.CreateAsync(Resources.Namespaces, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = Ns } });
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(server.Server.Url + "/"), Timeout = TimeSpan.FromMinutes(2) };
        var startRv = server.Server.Store.Revision;
        using var watch = await http.GetAsync($"api/v1/namespaces/{Ns}/configmaps?watch=true&resourceVersion={startRv}", HttpCompletionOption.ResponseHeadersRead);
        var watchLines = new StreamReader(await watch.Content.ReadAsStreamAsync());

        // Pressure: the writer is held for a moment again and again, so the clients' writes queue up and commit in groups.
        using var stop = new CancellationTokenSource();
        var pressure = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await server.Server.Store.WriteAsync(_ => Thread.Sleep(3));
                await Task.Yield();
            }
        });

        var history = new ConcurrentBag<(string Key, Op Op)>();
        var clients = Enumerable.Range(0, 16).Select(c => Task.Run(() => ClientAsync(http, c, 40, new Random((round * 100) + c), history))).ToList();
        await Task.WhenAll(clients);
        await stop.CancelAsync();
        await pressure;

        // The watch: read until a final marker object shows up.
        await Send(http, HttpMethod.Post, $"api/v1/namespaces/{Ns}/configmaps", """{"metadata":{"name":"end"}}""");
        var events = new List<(string Type, string Key, string? Value, long Rv)>();
        while (await watchLines.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            var e = (JsonObject)JsonNode.Parse(line)!;
            var obj = e.ObjOrNull("object")!;
            if (obj.Name() == "end")
            {
                break;
            }
            events.Add((e.Str("type")!, obj.Name(), obj.ObjOrNull("data").Str("v"), long.Parse(obj.ObjOrNull("metadata").Str("resourceVersion")!, CultureInfo.InvariantCulture)));
        }

        var problems = new List<string>();
        foreach (var key in Keys)
        {
            var ops = history.Where(h => h.Key == key).Select(h => h.Op).ToList();
            if (Checker.Check(ops, ObjectState.Absent) is { } problem)
            {
                problems.Add($"{key}: {problem}");
            }
            // Exactly the acknowledged writes, in order, in the watch.
            // (A delete's own resourceVersion is not in its answer: deletes are compared by count.)
            var acknowledged = ops.Where(o => o.Kind is not (OpKind.Get or OpKind.Delete) && o.Status is 200 or 201)
                .Select(o => (Type: o.Kind == OpKind.Create ? "ADDED" : "MODIFIED", Key: key, Value: o.ResultValue, Rv: o.ResultRv!.Value))
                .OrderBy(w => w.Rv).ToList();
            var watched = events.Where(e => e.Key == key && e.Type != "DELETED").ToList();
            var deletes = ops.Count(o => o.Kind == OpKind.Delete && o.Status == 200);
            if (deletes != events.Count(e => e.Key == key && e.Type == "DELETED"))
            {
                problems.Add($"{key}: {deletes} deletes acknowledged, {events.Count(e => e.Key == key && e.Type == "DELETED")} in the watch");
            }
            if (!acknowledged.SequenceEqual(watched))
            {
                problems.Add($"{key}: the watch shows {watched.Count} events, {acknowledged.Count} writes were acknowledged; first difference at "
                    + acknowledged.Zip(watched).TakeWhile(p => p.First == p.Second).Count());
            }
        }
        var writes = history.Count(h => h.Op.Kind != OpKind.Get && h.Op.Status is 200 or 201);
        var conflicts = history.Count(h => h.Op.Status == 409);
        Console.WriteLine($"linearizability round {round}: operations: {history.Count}, acknowledged_writes: {writes}, conflicts: {conflicts}, watch_events: {events.Count}, anomalies: {problems.Count}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // The run was not trivial: writes succeeded and some preconditions failed.
        Assert.True(writes > 50 && conflicts > 0, $"writes {writes}, conflicts {conflicts}");
    }

    private static async Task ClientAsync(HttpClient http, int client, int count, Random random, ConcurrentBag<(string, Op)> history)
    {
        var lastRv = new Dictionary<string, long>();
        for (var n = 0; n < count; n++)
        {
            var key = Keys[random.Next(Keys.Length)];
            var value = $"c{client}-{n}";
            var known = lastRv.GetValueOrDefault(key, 1);
            var roll = random.Next(100);
            var path = $"api/v1/namespaces/{Ns}/configmaps";
            var (kind, precondition, call) = roll switch
            {
                < 15 => (OpKind.Create, (long?)null, (Func<Task<(int, JsonObject?)>>)(() => Send(http, HttpMethod.Post, path, $$$"""{"metadata":{"name":"{{{key}}}"},"data":{"v":"{{{value}}}"}}"""))),
                < 40 => (OpKind.Get, null, () => Send(http, HttpMethod.Get, $"{path}/{key}", null)),
                < 65 => (OpKind.Update, known, () => Send(http, HttpMethod.Put, $"{path}/{key}", $$$"""{"metadata":{"name":"{{{key}}}","resourceVersion":"{{{known}}}"},"data":{"v":"{{{value}}}"}}""")),
                < 80 => (OpKind.Patch, null, () => Send(http, HttpMethod.Patch, $"{path}/{key}", $$$"""{"data":{"v":"{{{value}}}"}}""")),
                < 90 => (OpKind.Delete, known, () => Send(http, HttpMethod.Delete, $"{path}/{key}", $$$"""{"preconditions":{"resourceVersion":"{{{known}}}"}}""")),
                _ => (OpKind.Delete, null, () => Send(http, HttpMethod.Delete, $"{path}/{key}", null)),
            };
            var invoked = Stopwatch.GetTimestamp();
            var (status, body) = await call();
            var returned = Stopwatch.GetTimestamp();
            Assert.True(status is 200 or 201 or 404 or 409, $"client {client}: {kind} {key} answered {status}: {body?.ToJsonString()}");
            string? resultValue = null;
            long? resultRv = null;
            if (status is 200 or 201)
            {
                resultValue = body.ObjOrNull("data").Str("v");
                // A DELETE answers a Status (no resourceVersion); the others the object as stored.
                resultRv = body.ObjOrNull("metadata").Str("resourceVersion") is { } rv ? long.Parse(rv, CultureInfo.InvariantCulture) : null;
                lastRv[key] = kind == OpKind.Delete ? 1 : resultRv!.Value;
            }
            history.Add((key, new Op(client, kind, kind is OpKind.Get or OpKind.Delete ? null : value, precondition, status, resultValue, resultRv, invoked, returned)));
        }
    }

    private static async Task<(int Status, JsonObject? Body)> Send(HttpClient http, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, method == HttpMethod.Patch ? "application/merge-patch+json" : "application/json");
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null);
    }
}
