using k8s.Models;
using Svcnet.Node.Agent;

namespace Svcnet.Node.Tests;

public class NodeAgentTests
{
    [RootFact]
    public async Task Agent_reports_running_ready_and_terminating_statuses()
    {
        await using var cluster = await TestCluster.StartAsync();
        await using var agent = new NodeAgent(cluster.Node1, cluster.Runtime);
        var reports = new List<V1PodStatus>();
        agent.StatusChanged += report =>
        {
            lock (reports)
            {
                reports.Add(report.Status);
            }
        };

        var pod = await agent.PodAddedAsync(PodManifests.Seed());
        Assert.Same(pod, await agent.PodAddedAsync(PodManifests.Seed()));
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        // The test server's ports getting bound is reported by itself (no probe, no other change needed).
        await ClusterNetworkTests.WaitUntil(() =>
        {
            lock (reports)
            {
                return reports.Any(s => s.Conditions.Single(c => c.Type == "Ready").Status == "True");
            }
        });
        await agent.PodDeletedAsync("default", pod.Name, TimeSpan.FromSeconds(2));

        List<V1PodStatus> seen;
        lock (reports)
        {
            seen = [.. reports];
        }

        Assert.All(seen, s => Assert.Equal("10.244.0.2", s.PodIP));
        Assert.Contains(seen, s => s.Phase == "Running" && s.ContainerStatuses[0].State.Running is not null);
        // The last report before the process ended: terminating, so not Ready.
        Assert.Contains(seen, s => s.Conditions.Single(c => c.Type == "Ready").Status == "False" && s.ContainerStatuses[0].Ready);
        Assert.Empty(agent.Pods);
        Assert.False(Network.Netns.Exists(pod.Sandbox.Netns));
    }
}
