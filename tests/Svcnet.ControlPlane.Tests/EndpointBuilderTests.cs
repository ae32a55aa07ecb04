using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Controllers;

namespace Svcnet.ControlPlane.Tests;

public class EndpointBuilderTests
{
    private static JsonObject Service(string targetPort = "\"http\"", string protocol = "TCP") => (JsonObject)JsonNode.Parse($$$"""
        {"metadata":{"name":"web","namespace":"default","uid":"s1","labels":{"team":"a"}},
         "spec":{"selector":{"app":"web"},"ports":[{"name":"p","port":80,"protocol":"{{{protocol}}}","targetPort":{{{targetPort}}}}]}}
        """)!;

    private static JsonObject Pod(string name, string? ip, bool ready = true, int port = 8080, bool terminating = false, string phase = "Running") => (JsonObject)JsonNode.Parse($$$"""
        {"metadata":{"name":"{{{name}}}","namespace":"default","uid":"u-{{{name}}}","labels":{"app":"web"}{{{(terminating ? ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"" : "")}}}},
         "spec":{"nodeName":"node1","containers":[{"name":"c","ports":[{"name":"http","containerPort":{{{port}}},"protocol":"TCP"}]}]},
         "status":{"phase":"{{{phase}}}",{{{(ip is null ? "" : $"\"podIP\":\"{ip}\",")}}}"conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}"}]}}
        """)!;

    [Fact]
    public void Named_target_ports_resolve_per_pod_and_group_slices_by_port()
    {
        var pods = new[] { Pod("a", "10.0.0.1", port: 8080), Pod("b", "10.0.0.2", port: 9090), Pod("c", null), Pod("d", "10.0.0.4", phase: "Succeeded") };
        var slices = EndpointSliceBuilder.Desired(Service(), pods);
        Assert.Equal(2, slices.Count);
        Assert.Equal([8080, 9090], slices.Select(s => s.Ports[0]!["port"]!.GetValue<long>()).Order());
        Assert.All(slices, s => Assert.Single(s.Endpoints));
        Assert.Equal("10.0.0.1", slices.Single(s => s.Ports[0]!["port"]!.GetValue<long>() == 8080).Endpoints[0]["addresses"]![0]!.GetValue<string>());
    }

    [Fact]
    public void Protocol_must_match_for_named_ports_and_missing_names_drop_the_port()
    {
        var slices = EndpointSliceBuilder.Desired(Service(protocol: "UDP"), [Pod("a", "10.0.0.1")]);
        Assert.Empty(Assert.Single(slices).Ports);
        Assert.Single(slices[0].Endpoints);
        Assert.Equal(8080L, PodEndpoints.FindPort(Pod("a", "10.0.0.1"), (JsonObject)Service()["spec"]!["ports"]![0]!));
        Assert.Equal(5000L, PodEndpoints.FindPort(Pod("a", "10.0.0.1"), (JsonObject)Service("5000")["spec"]!["ports"]![0]!));
    }

    [Fact]
    public void At_most_100_endpoints_per_slice_and_a_placeholder_when_empty()
    {
        var pods = Enumerable.Range(0, 250).Select(i => Pod($"p{i:D3}", $"10.1.{i / 200}.{i % 200 + 1}")).ToList();
        var slices = EndpointSliceBuilder.Desired(Service(), pods);
        Assert.Equal([100, 100, 50], slices.Select(s => s.Endpoints.Count));
        var placeholder = Assert.Single(EndpointSliceBuilder.Desired(Service(), []));
        Assert.Empty(placeholder.Ports);
        Assert.Empty(placeholder.Endpoints);
    }

    [Fact]
    public void Conditions_follow_readiness_and_termination()
    {
        var eps = EndpointSliceBuilder.Desired(Service(), [Pod("a", "10.0.0.1"), Pod("b", "10.0.0.2", ready: false), Pod("c", "10.0.0.3", terminating: true)])[0].Endpoints;
        string C(int i) => eps[i]["conditions"]!.ToJsonString();
        Assert.Equal("""{"ready":true,"serving":true,"terminating":false}""", C(0));
        Assert.Equal("""{"ready":false,"serving":false,"terminating":false}""", C(1));
        Assert.Equal("""{"ready":false,"serving":true,"terminating":true}""", C(2));
        Assert.Equal("node1", eps[0]["nodeName"]!.GetValue<string>());
        Assert.Equal("""{"kind":"Pod","namespace":"default","name":"a","uid":"u-a"}""", eps[0]["targetRef"]!.ToJsonString());
        var labels = EndpointSliceBuilder.Labels(Service());
        Assert.Equal("""{"team":"a","kubernetes.io/service-name":"web","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"}""", labels.ToJsonString());
    }

    [Fact]
    public void Endpoints_split_ready_and_not_ready_and_drop_terminating()
    {
        var subsets = EndpointsBuilder.Subsets(Service(), [Pod("a", "10.0.0.1"), Pod("b", "10.0.0.2", ready: false), Pod("c", "10.0.0.3", terminating: true)]);
        var subset = Assert.Single(subsets)!;
        Assert.Equal(["10.0.0.1"], subset["addresses"]!.AsArray().Select(a => a!["ip"]!.GetValue<string>()));
        Assert.Equal(["10.0.0.2"], subset["notReadyAddresses"]!.AsArray().Select(a => a!["ip"]!.GetValue<string>()));
        Assert.Equal("""[{"name":"p","port":8080,"protocol":"TCP"}]""", subset["ports"]!.ToJsonString());
    }

    [Fact]
    public void Zone_comes_from_the_node()
    {
        var eps = EndpointSliceBuilder.Desired(Service(), [Pod("a", "10.0.0.1")], node => node == "node1" ? "zone-a" : null)[0].Endpoints;
        Assert.Equal("zone-a", eps[0]["zone"]!.GetValue<string>());
        Assert.Null(EndpointSliceBuilder.Desired(Service(), [Pod("a", "10.0.0.1")])[0].Endpoints[0]["zone"]);
    }
}
