using System;
using System.Linq;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using MoeOpGen.Tests.Gpu;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>The fused CPU path gives the composite path's rows and sums; its unpermute is deterministic.</summary>
public class FusedRoutingTests
{
    public static TheoryData<ScalarType, bool> DtypesAndLayouts()
    {
        var data = new TheoryData<ScalarType, bool>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16 })
            foreach (bool dropAndPad in new[] { false, true })
                data.Add(dtype, dropAndPad);
        return data;
    }

    [Theory, MemberData(nameof(DtypesAndLayouts))]
    public void Fused_permute_gives_the_composite_rows_and_probs(ScalarType dtype, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        // Large enough (≈1.4 MB of rows) for the parallel loops to split the work.
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 2500, experts: 8, k: 3, hidden: 48, seed: 11, dtype);
        long? numOutTokens = dropAndPad ? 6000 : null;
        var composite = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused: false, dropAndPad);
        var fused = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused: true, dropAndPad);
        TensorAssert.Equal(composite.PermutedInput, fused.PermutedInput, "rows");
        TensorAssert.Equal(composite.PermutedProbs!, fused.PermutedProbs!, "probs");
        Assert.Equal(composite.SortedIndices.data<long>().ToArray(),
                     RoutingTestData.TokenIdsOf(fused.SortedIndices, composite.PermutedInput.shape[0]));
    }

    [Theory, MemberData(nameof(DtypesAndLayouts))]
    public void Fused_unpermute_agrees_with_the_composite_unpermute(ScalarType dtype, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 300, experts: 6, k: 2, hidden: 20, seed: 12, dtype);
        long? numOutTokens = dropAndPad ? 500 : null;
        var composite = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused: false, dropAndPad);
        var fused = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused: true, dropAndPad);
        var rows = composite.PermutedInput * 1.5;   // stands in for the experts' outputs
        var restore = tokens.shape;
        foreach (var p in new[] { null, probs })
        {
            var expected = TokenPermutation.Unpermute(rows, composite.SortedIndices, restore, p, map, fused: false, dropAndPad);
            var actual = TokenPermutation.Unpermute(rows, fused.SortedIndices, restore, p, fused: true);
            TensorAssert.Close(expected, actual, $"unpermute (probs: {p is not null})");
        }
    }

    [Fact]
    public void Fused_unpermute_is_bit_identical_across_runs()
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 4096, experts: 16, k: 4, hidden: 64, seed: 13);
        var (permuted, _, rowMap) = TokenPermutation.Permute(tokens, map, probs, fused: true);
        var rows = permuted * randn_like(permuted);
        var first = TokenPermutation.Unpermute(rows, rowMap, tokens.shape, probs, fused: true);
        for (int run = 0; run < 4; run++)
            TensorAssert.Equal(first, TokenPermutation.Unpermute(rows, rowMap, tokens.shape, probs, fused: true), $"run {run}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_cpu_row_map_builder_agrees_with_the_tensor_op_builder(bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        foreach (var (t, e, k) in new[] { (0L, 3L, 1), (1L, 1L, 1), (37L, 5L, 2), (200L, 16L, 16), (64L, 9L, 1) })
        {
            var (_, map, _) = RoutingTestData.TopK(tokens: t, experts: e, k: k, hidden: 1, seed: t + e);
            long? capacity = dropAndPad ? TokenPermutation.CapacityPerExpert(t * k / 2 + 1, e, t) : null;
            var (cpuMap, rows) = FusedRowMap.BuildOnCpu(map, capacity);
            var (opsMap, routedPerExpert) = FusedRowMap.BuildWithTensorOps(map, capacity);
            TensorAssert.Equal(cpuMap, opsMap, $"row map T={t} E={e} k={k}");
            Assert.Equal(capacity is long c ? e * c : routedPerExpert.sum().item<long>(), rows);
        }
    }

    public static TheoryData<string> EdgeCases => new(FusedRoutingCudaTests.EdgeCase.All.Select(e => e.Name).ToArray());

    /// <summary>The CUDA suite's edge cases keep the exact contract on the CPU, both paths (so the cases themselves
    /// are sound, and a CUDA failure on one of them is the kernels').</summary>
    [Theory, MemberData(nameof(EdgeCases))]
    public void The_cuda_edge_cases_keep_the_exact_contract_on_the_cpu(string name)
    {
        var c = FusedRoutingCudaTests.EdgeCase.All.Single(e => e.Name == name).Create();
        RoutingContract.Check(c, CPU, fused: true);
        RoutingContract.Check(c, CPU, fused: false);
    }

    /// <summary>The tensor-op builder (the CUDA path's, one flattened scan) equals the CPU loops on random maps:
    /// bool and integer maps, densities from empty to full (so empty experts and full ones), token counts that are
    /// not multiples of anything, dropless and drop-and-pad with capacities 0, under, over and at T.</summary>
    [Fact]
    public void The_tensor_op_row_map_builder_equals_the_cpu_builder_on_random_maps()
    {
        using var scope = NewDisposeScope();
        var random = new Random(17);
        for (int trial = 0; trial < 200; trial++)
        {
            long tokens = trial < 3 ? trial : random.Next(1, 700);
            long experts = random.Next(1, 5) == 1 ? random.Next(1, 4) : random.Next(1, 130);
            double density = new[] { 0.0, 0.02, 0.1, 0.5, 1.0 }[random.Next(5)];
            var generator = new Generator((ulong)trial);
            var map = rand(new[] { tokens, experts }, generator: generator) < density;
            if (random.Next(3) == 0) map = map.to(ScalarType.Int32) * random.Next(1, 4);   // nonzero counts as routed
            long? capacity = random.Next(3) switch
            {
                0 => null,
                1 => random.Next(0, 3) == 0 ? 0 : random.Next(0, (int)tokens + 1),
                _ => tokens,
            };
            var (cpuMap, rows) = FusedRowMap.BuildOnCpu(map, capacity);
            var (opsMap, routedPerExpert) = FusedRowMap.BuildWithTensorOps(map, capacity);
            TensorAssert.Equal(cpuMap, opsMap, $"trial {trial}: T={tokens} E={experts} density {density} capacity {capacity?.ToString() ?? "none"}");
            Assert.Equal(map.ne(0).sum(0, type: ScalarType.Int64).data<long>().ToArray(), routedPerExpert.data<long>().ToArray());
            Assert.Equal(capacity is long c ? experts * c : routedPerExpert.sum().item<long>(), rows);
        }
    }
}
