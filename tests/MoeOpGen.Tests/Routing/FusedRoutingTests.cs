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

    /// <summary>The row-map check's CPU loop (the reference for the CUDA kernel): copies are the entries ≥ 0, the
    /// largest row is the maximum entry, -1 for an empty map; also on maps split over several parallel ranges.</summary>
    [Fact]
    public void The_row_map_summary_counts_the_copies_and_finds_the_largest_row()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(29);
        foreach (var (tokens, experts) in new[] { (1L, 1L), (7L, 5L), (4096L, 300L) })   // the last: 19 ranges
        {
            var map = randint(-3, 1_000_000, new[] { tokens, experts }, ScalarType.Int32, generator: generator);
            var (copies, largest) = FusedRoutingCpuKernels.SummarizeRowMap(map);
            Assert.Equal(map.ge(0).sum().item<long>(), copies);
            Assert.Equal(map.max().item<int>(), largest);
        }
        Assert.Equal((0L, -1L), FusedRoutingCpuKernels.SummarizeRowMap(empty(new[] { 0L, 4 }, ScalarType.Int32)));
        Assert.Equal((0L, -1L), FusedRoutingCpuKernels.SummarizeRowMap(full(new[] { 3L, 4 }, -1, ScalarType.Int32)));
    }

    /// <summary>The fused unpermute accepts its map, also as a non-contiguous view, and rejects, naming
    /// sortedIndices, a map with a row past the last one, a copy too few or a copy too many.</summary>
    [Fact]
    public void The_fused_unpermute_rejects_maps_that_do_not_fit_the_rows()
    {
        using var scope = NewDisposeScope();
        var (tokens, map, _) = RoutingTestData.TopK(tokens: 30, experts: 8, k: 2, hidden: 4, seed: 31);
        var (permuted, _, rowMap) = TokenPermutation.Permute(tokens, map, fused: true);
        var expected = TokenPermutation.Unpermute(permuted, rowMap, tokens.shape, fused: true);
        var strided = rowMap.t().contiguous().t();
        Assert.False(strided.is_contiguous());
        TensorAssert.Equal(expected, TokenPermutation.Unpermute(permuted, strided, tokens.shape, fused: true), "a non-contiguous map");

        var flat = rowMap.reshape(-1);
        long copy = flat.ge(0).nonzero()[0, 0].item<long>(), none = flat.lt(0).nonzero()[0, 0].item<long>();
        foreach (var (at, row, what) in new[] { (copy, 60, "a row past the end"), (copy, -1, "a copy too few"), (none, 0, "a copy too many") })
        {
            var bad = flat.clone();
            bad[at] = tensor(row);
            var error = Assert.ThrowsAny<ArgumentException>(() => TokenPermutation.Unpermute(permuted, bad.view(rowMap.shape), tokens.shape, fused: true));
            Assert.True(error.ParamName == "sortedIndices", $"{what}: the error names {error.ParamName}.");
        }
    }
}
