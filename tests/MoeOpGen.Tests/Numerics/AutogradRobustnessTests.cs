using System;
using System.Collections.Generic;
using MoeOpGen.Engines;
using MoeOpGen.Moe;
using MoeOpGen.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// Autograd robustness (issue 7), beyond BackwardFailureTests' in-place case: every custom autograd function of
/// MoeOpGen (gated, unary, fused permute, fused unpermute, aux-loss scaler) survives a second backward through a
/// freed graph, the classic misuse, with an exception after <c>backward()</c> returns instead of a dead process;
/// and 1,000 forward+backward iterations of each leave no tensor alive (dispose-scope statistics of this thread,
/// and TorchSharp's process-wide live-tensor count after a full garbage collection).
/// </summary>
[Collection(nameof(BackwardFailureTests))]   // process-wide failure store and live-tensor count: nothing may run beside it
public class AutogradRobustnessTests
{
    /// <summary>One differentiable MoeOpGen call: returns the output from leaves that require grad.</summary>
    public sealed record Pipeline(string Name, Func<Tensor[], Tensor> Forward, Func<Tensor[]> Leaves)
    {
        public override string ToString() => Name;
    }

    private static Tensor Leaf(long seed, params long[] shape) => randn(shape, generator: new Generator((ulong)seed)).requires_grad_(true);

    /// <summary>One routing, made once and kept out of every dispose scope; pipelines use copies of it.</summary>
    private static readonly (Tensor Map, Tensor Probs) FixedRouting = MakeRouting();

    private static (Tensor Map, Tensor Probs) MakeRouting()
    {
        using var scope = NewDisposeScope();
        var (_, map, probs) = MoeOpGen.Tests.Routing.RoutingTestData.TopK(tokens: 16, experts: 4, k: 2, hidden: 8, seed: 5);
        return (map.DetachFromDisposeScope(), probs.DetachFromDisposeScope());
    }

    private static Tensor Map => FixedRouting.Map;

    private static Tensor Probs() => FixedRouting.Probs.clone().requires_grad_(true);

    private static readonly IReadOnlyList<Pipeline> Pipelines =
    [
        new("gated with weights and bias", x => QuickGeGlu.Apply(x[0], x[1], x[2], 1.5f, 0.25f, clampValue: 2.0),
            () => [Leaf(1, 16, 8), Leaf(2, 16, 1), Leaf(3, 8)]),
        new("gated with the FP8 store", x => SwiGlu.Apply(x[0], fp8InputStore: true), () => [Leaf(1, 16, 8)]),
        new("unary", x => QuickGelu.Apply(x[0], 1.5f), () => [Leaf(1, 16, 8)]),
        new("fused permute and unpermute", x =>
        {
            var (permuted, permutedProbs, rowMap) = TokenPermutation.Permute(x[0], Map, x[1], fused: true);
            return TokenPermutation.Unpermute(permuted * 2, rowMap, [16, 8], x[1], fused: true) + permutedProbs!.sum();
        }, () => [Leaf(1, 16, 8), Probs()]),
        new("composite permute and unpermute", x =>
        {
            var (permuted, _, ids) = TokenPermutation.Permute(x[0], Map, x[1]);
            return TokenPermutation.Unpermute(permuted * 2, ids, [16, 8], x[1], Map);
        }, () => [Leaf(1, 16, 8), Probs()]),
        new("aux-loss scaler", x => MoEAuxLossAutoScaler.Apply(x[0] * 2, x[1].sum()), () => [Leaf(1, 16, 8), Leaf(2, 4)]),
    ];

    public static TheoryData<string> PipelineNames()
    {
        var data = new TheoryData<string>();
        foreach (var p in Pipelines) data.Add(p.Name);
        return data;
    }

    private static Pipeline ByName(string name) => ((List<Pipeline>)[.. Pipelines]).Find(p => p.Name == name)!;

    /// <summary>
    /// A second backward() without retain_graph: libtorch's own nodes throw from backward() (an ordinary, catchable
    /// exception); MoeOpGen's nodes keep what they saved until the graph is collected, so through them it runs again
    /// as retain_graph would and the gradients accumulate a second time. Either way no process dies and nothing is
    /// left pending, and the next graph works.
    /// </summary>
    [Theory]
    [MemberData(nameof(PipelineNames))]
    public void A_second_backward_is_an_exception_or_a_second_accumulation_never_a_crash(string name)
    {
        var pipeline = ByName(name);
        using var scope = NewDisposeScope();
        var leaves = pipeline.Leaves();
        var y = pipeline.Forward(leaves).sum();
        y.backward();
        BackwardFailures.ThrowIfAny();
        var first = leaves[0].grad!.clone();

        var thrown = Record.Exception(() => y.backward());
        BackwardFailures.ThrowIfAny();
        if (thrown is null)
            TensorAssert.Close(first * 2, leaves[0].grad!, Tolerance.Fp32, name + ": second accumulation");
        else
            Assert.Contains("second time", Flatten(thrown), StringComparison.OrdinalIgnoreCase);

        var again = pipeline.Leaves();
        pipeline.Forward(again).sum().backward();
        BackwardFailures.ThrowIfAny();
        TensorAssert.Close(first, again[0].grad!, Tolerance.Fp32, name + ": the next graph");
    }

    /// <summary>
    /// The realistic failure inside a backward: a tensor a node saved is changed in place before backward, so
    /// libtorch's version check throws when the node unpacks it. BackwardFailureTests does this to the input of every
    /// operator; here it is the fused routing's saved tensors (the row map Permute returns, the rows Unpermute read).
    /// </summary>
    [Theory]
    [InlineData("row map returned by the fused Permute")]
    [InlineData("rows read by the fused Unpermute")]
    public void A_saved_routing_tensor_changed_in_place_is_an_exception_after_backward_returns(string changed)
    {
        using var scope = NewDisposeScope();
        var tokens = Leaf(1, 16, 8);
        var probs = Probs();
        var (permuted, _, rowMap) = TokenPermutation.Permute(tokens, Map, probs, fused: true);
        var rows = permuted * 2;
        var output = TokenPermutation.Unpermute(rows, rowMap, [16, 8], probs, fused: true);
        using (no_grad())
        {
            if (changed.StartsWith("row map", StringComparison.Ordinal)) rowMap.add_(0);
            else rows.mul_(1);
        }

        output.sum().backward();                      // would abort the process if the exception escaped backward

        var failure = Assert.ThrowsAny<Exception>(BackwardFailures.ThrowIfAny);
        Assert.Contains("inplace", Flatten(failure).Replace("-", "").Replace(" ", ""), StringComparison.OrdinalIgnoreCase);
        var (again, _, againMap) = TokenPermutation.Permute(tokens, Map, probs, fused: true);
        TokenPermutation.Unpermute(again, againMap, [16, 8], probs, fused: true).sum().backward();
        BackwardFailures.ThrowIfAny();
    }

    private const int Iterations = 1000;

    [Theory]
    [MemberData(nameof(PipelineNames))]
    public void A_thousand_forward_and_backward_iterations_leave_no_tensor_alive(string name)
    {
        var pipeline = ByName(name);
        var statistics = DisposeScopeManager.Statistics;
        RunOnce(pipeline);                             // warm-up: statics (JIT, caches) settle first
        Collect();
        long threadLive = statistics.ThreadTotalLiveCount, processLive = Tensor.TotalCount;
        long detached = statistics.DetachedFromScopeCount;

        for (int i = 0; i < Iterations; i++) RunOnce(pipeline);

        Assert.Equal(threadLive, statistics.ThreadTotalLiveCount);
        Assert.Equal(detached, statistics.DetachedFromScopeCount);   // nothing escaped a scope to the finalizer
        Collect();
        Assert.Equal(processLive, Tensor.TotalCount);
        BackwardFailures.ThrowIfAny();
    }

    private static void RunOnce(Pipeline pipeline)
    {
        using var scope = NewDisposeScope();
        var leaves = pipeline.Leaves();
        pipeline.Forward(leaves).sum().backward();
        if (leaves[0].grad is null) throw new InvalidOperationException("no gradient");
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string Flatten(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Flatten(e.InnerException);

    [Fact]
    [Trait("Category", "Gpu")]
    public void A_failure_inside_a_cuda_backward_on_the_autograd_worker_thread_is_an_exception_not_a_crash()
    {
        Assert.SkipUnless(cuda.is_available(), "No CUDA device.");
        using var scope = NewDisposeScope();
        var leaf = Leaf(1, 16, 8).cuda().detach().requires_grad_(true);
        var input = leaf * 1;
        var y = QuickGeGlu.Apply(input, alpha: 1.5f);
        using (no_grad()) input.add_(1);             // the saved input changes: libtorch's version check throws in backward
        y.sum().backward();
        var failure = Assert.ThrowsAny<Exception>(BackwardFailures.ThrowIfAny);
        Assert.Contains("inplace", Flatten(failure).Replace("-", "").Replace(" ", ""), StringComparison.OrdinalIgnoreCase);

        var x = Leaf(2, 16, 8).cuda().detach().requires_grad_(true);
        QuickGeGlu.Apply(x, alpha: 1.5f).sum().backward();
        BackwardFailures.ThrowIfAny();
        Assert.NotNull(x.grad);
    }
}
