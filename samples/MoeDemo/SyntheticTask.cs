using System;
using static TorchSharp.torch;

namespace MoeDemo;

/// <summary>
/// Data a Mixture of Experts is made for: tokens come from <c>clusters</c> Gaussian clusters, and each cluster has
/// its own target map <c>y = tanh(x A_c) · 2</c>. A router that sends each cluster to its own experts can fit it;
/// one shared MLP of the same width would have to fit all maps at once. Fixed by the seed; each batch is new data.
/// </summary>
public sealed class SyntheticTask : IDisposable
{
    private readonly Tensor centers;   // [C, hidden]
    private readonly Tensor maps;      // [C, hidden, hidden]
    private readonly Generator generator;

    public SyntheticTask(int hidden, int clusters, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(clusters, 1);
        generator = new Generator((ulong)seed + 1);
        centers = (randn([clusters, hidden], generator: generator) * 2.0).DetachFromDisposeScope();
        maps = (randn([clusters, hidden, hidden], generator: generator) / Math.Sqrt(hidden)).DetachFromDisposeScope();
        Clusters = clusters;
    }

    public int Clusters { get; }

    /// <summary>A batch of <paramref name="tokens"/> inputs <c>[tokens, hidden]</c> and targets, on <paramref name="device"/>.</summary>
    public (Tensor Inputs, Tensor Targets) Sample(int tokens, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        var cluster = randint(Clusters, [tokens], generator: generator);
        var inputs = centers.index_select(0, cluster) + randn([tokens, centers.shape[1]], generator: generator) * 0.5;
        var targets = inputs.unsqueeze(1).bmm(maps.index_select(0, cluster)).squeeze(1).tanh() * 2.0;
        return (inputs.to(device), targets.to(device));
    }

    public void Dispose()
    {
        centers.Dispose();
        maps.Dispose();
        generator.Dispose();
    }
}
