using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>A container's readiness and liveness probes and how to run them.</summary>
public sealed record ContainerProbes(V1Probe? Readiness, V1Probe? Liveness, ProbeExecutor Executor, TimeSpan GracePeriod);
