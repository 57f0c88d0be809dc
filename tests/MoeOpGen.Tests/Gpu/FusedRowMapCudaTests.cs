using System;
using System.Linq;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Routing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// The row-map kernels of the fused CUDA path (<c>moe_row_map_count_*</c>, <c>moe_row_map_scan</c>,
/// <c>moe_row_map_rows_*</c>, through <see cref="FusedRouting.BuildRowMap"/>) give exactly the map and the row count
/// of <see cref="FusedRowMap.BuildOnCpu"/>, the reference; and the unpermute's check kernel
/// (<c>moe_row_map_summary</c>) counts and bounds a map exactly as the CPU loop does, so a map that does not fit the
/// rows is still rejected before any kernel reads it.
/// </summary>
[Trait("Category", "Gpu")]
public class FusedRowMapCudaTests
{
    /// <summary>Named shapes (a row carries the name only): E = 1 and E = 256, T = 0, T not a multiple of the tile
    /// (32) nor of the block (256), tiles longer than 32 (T·E beyond the scan bound), a scan of several chunks, the
    /// GPT-OSS shape, 7000 experts, and densities from nothing routed to everything routed.</summary>
    internal sealed record Shape(string Name, long Tokens, long Experts, double Density)
    {
        public static readonly Shape[] All =
        [
            new("T = 0", 0, 4, 0.5),
            new("one token, one expert", 1, 1, 1.0),
            new("E = 1, T = 33", 33, 1, 0.6),
            new("E = 1, T = 70001", 70001, 1, 0.5),
            new("E = 256, T = 1000", 1000, 256, 0.03),
            new("E = 256, T = 8192 (scan of 4 chunks)", 8192, 256, 0.03),
            new("E = 256, T = 20000 (tile 128)", 20000, 256, 0.02),
            new("GPT-OSS T = 8192, E = 32, top-4-like", 8192, 32, 0.125),
            new("T = 257, E = 40, nothing routed", 257, 40, 0.0),
            new("T = 257, E = 40, everything routed", 257, 40, 1.0),
            new("T = 300, E = 64, sparse (empty experts, tokens without experts)", 300, 64, 0.004),
            new("T = 37, E = 7000", 37, 7000, 0.001),
        ];
    }

    public static TheoryData<string, ScalarType> ShapesAndDtypes()
    {
        var data = new TheoryData<string, ScalarType>();
        foreach (var shape in Shape.All)
            foreach (var dtype in new[] { ScalarType.Bool, ScalarType.Byte, ScalarType.Int8, ScalarType.Int16, ScalarType.Int32, ScalarType.Int64 })
                data.Add(shape.Name, dtype);
        return data;
    }

    /// <summary>Dropless and drop-and-pad with capacities 0, 1, under the busiest expert's load, over it and at T, for
    /// bool maps and integer maps of every width (1, 2, 4 and 8 bytes; the nonzero entries are 1, -1, 2 or 3).</summary>
    [Theory, MemberData(nameof(ShapesAndDtypes))]
    public void The_cuda_row_map_equals_the_cpu_reference(string shapeName, ScalarType dtype)
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var shape = Shape.All.Single(s => s.Name == shapeName);
        var map = RandomMap(shape.Tokens, shape.Experts, shape.Density, dtype, seed: shape.Tokens * 7 + shape.Experts);
        long busiest = shape.Tokens == 0 ? 0 : map.ne(0).sum(0, type: ScalarType.Int64).max().item<long>();
        foreach (long? capacity in new long?[] { null, 0, 1, busiest / 2, busiest + 3, shape.Tokens }.Distinct())
        {
            if (capacity > shape.Tokens) continue;   // TokenPermutation caps the capacity at T
            AssertCudaMatchesCpu(map, capacity, $"{shapeName}, {dtype}, capacity {capacity?.ToString() ?? "none (dropless)"}");
        }
    }

    /// <summary>200 random maps of random shapes, densities, dtypes and capacities.</summary>
    [Fact]
    public void The_cuda_row_map_equals_the_cpu_reference_on_random_maps()
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var random = new Random(17);
        var dtypes = new[] { ScalarType.Bool, ScalarType.Byte, ScalarType.Int8, ScalarType.Int16, ScalarType.Int32, ScalarType.Int64 };
        for (int trial = 0; trial < 200; trial++)
        {
            long tokens = trial < 3 ? trial : random.Next(1, 3000);
            long experts = random.Next(1, 5) == 1 ? random.Next(1, 4) : random.Next(1, 300);
            double density = new[] { 0.0, 0.02, 0.1, 0.5, 1.0 }[random.Next(5)];
            var map = RandomMap(tokens, experts, density, dtypes[random.Next(dtypes.Length)], seed: trial);
            long? capacity = random.Next(3) switch
            {
                0 => null,
                1 => random.Next(0, 3) == 0 ? 0 : random.Next(0, (int)tokens + 1),
                _ => tokens,
            };
            AssertCudaMatchesCpu(map, capacity, $"trial {trial}: T={tokens} E={experts} {map.dtype} density {density} capacity {capacity?.ToString() ?? "none"}");
        }
    }

    /// <summary>A transposed (non-contiguous) routing map is read as its values, not its storage order.</summary>
    [Fact]
    public void A_non_contiguous_routing_map_gives_the_map_of_its_values()
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var map = RandomMap(48, 300, 0.05, ScalarType.Bool, seed: 5);
        var transposedStorage = map.t().contiguous().cuda().t();
        Assert.False(transposedStorage.is_contiguous());
        var (expected, expectedRows) = FusedRowMap.BuildOnCpu(map, null);
        var (actual, actualRows) = FusedRouting.BuildRowMap(transposedStorage, null);
        TensorAssert.Equal(expected, actual.cpu(), "row map of a transposed view");
        Assert.Equal(expectedRows, actualRows);
    }

    /// <summary>The check kernel = the CPU loop: copies (entries ≥ 0) and the largest entry, on maps with junk
    /// negative entries, maps larger than its grid (256 blocks × 256 threads: grid-strided), one-entry and empty maps.</summary>
    [Fact]
    public void The_cuda_row_map_summary_equals_the_cpu_summary()
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var generator = new Generator(23);
        foreach (var (tokens, experts) in new[] { (0L, 3L), (1L, 1L), (7L, 5L), (8192L, 32L), (5000L, 300L), (1L, 1000003L) })
        {
            var map = randint(-3, 1_000_000, new[] { tokens, experts }, ScalarType.Int32, generator: generator);
            var expected = FusedRoutingCpuKernels.SummarizeRowMap(map);
            var actual = FusedRouting.SummarizeRowMap(map.cuda());
            Assert.Equal(expected, actual);
            Assert.Equal(map.ge(0).sum().item<long>(), actual.Copies);
            Assert.Equal(tokens * experts == 0 ? -1 : map.max().item<int>(), actual.LargestRow);
        }
        Assert.Equal((0L, -1L), FusedRouting.SummarizeRowMap(full(new[] { 4L, 2 }, -1, ScalarType.Int32, device: CUDA)));
    }

    /// <summary>The check between a row map and the rows still holds on CUDA, although the gather is now queued
    /// before the check is read back: a map with a row at or past the last row (just past it, far past it, at
    /// int.MaxValue), a map with a copy too few, and a map with a copy too many are rejected, naming sortedIndices,
    /// with and without probs. The bounds-safe gather then left the context healthy (an illegal address would make
    /// every later CUDA call fail): a fitting map right after gives the CPU's result.</summary>
    [Fact]
    public void The_fused_cuda_unpermute_rejects_maps_that_do_not_fit_the_rows()
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 300, experts: 8, k: 2, hidden: 16, seed: 71);
        var (permuted, _, rowMap) = TokenPermutation.Permute(tokens.cuda(), map.cuda(), fused: true);
        Assert.Equal(600, permuted.shape[0]);
        var expected = TokenPermutation.Unpermute(permuted.cpu(), rowMap.cpu(), tokens.shape, probs, fused: true);
        TensorAssert.Equal(expected, TokenPermutation.Unpermute(permuted, rowMap, tokens.shape, probs.cuda(), fused: true).cpu(), "a fitting map is accepted");

        var (t, e) = FirstEntry(rowMap, copy: true);
        var (u, f) = FirstEntry(rowMap, copy: false);
        foreach (var withProbs in new[] { false, true })
            foreach (var (token, expert, row, what) in new[]
                     {
                         (t, e, 600, "a row just past the end"),     // as many copies as rows, one of them out of range
                         (t, e, 1 << 20, "a row far past the end"),
                         (t, e, int.MaxValue, "a row at int.MaxValue"),
                         (t, e, -1, "a copy too few"),               // every row in range, one copy missing
                         (u, f, 0, "a copy too many"),               // every row in range, a second owner of row 0
                     })
            {
                var bad = rowMap.cpu();   // a copy, edited on the host
                bad[token, expert] = tensor(row);
                var error = Assert.ThrowsAny<ArgumentException>(() => TokenPermutation.Unpermute(
                    permuted, bad.cuda(), tokens.shape, withProbs ? probs.cuda() : null, fused: true));
                Assert.True(error.ParamName == "sortedIndices", $"{what} (probs: {withProbs}): the error names {error.ParamName}.");
            }
        TensorAssert.Equal(expected, TokenPermutation.Unpermute(permuted, rowMap, tokens.shape, probs.cuda(), fused: true).cpu(),
                           "a fitting map right after the rejected ones");
    }

    /// <summary>The forward kernels are bounds-safe on their own, which is what lets the host queue them before it
    /// reads the map's check back: the gather-reduce sums only the copies whose row is below the rows it is given
    /// (bit-identical to the CPU gather over the map with the other entries set to -1), and the permute writes no row
    /// (nor prob) at or past the rows of its output, checked on guard rows after a view of a larger buffer.</summary>
    [Fact]
    public void The_forward_kernels_skip_rows_at_or_past_the_rows_they_are_given()
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 300, experts: 40, k: 4, hidden: 24, seed: 73);
        var (cpuPermuted, cpuPermutedProbs, rowMap) = TokenPermutation.Permute(tokens, map, probs, fused: true);
        const long rows = 1200, kept = 1000;   // the map routes 1200 copies; the kernels get 1000 rows

        var outOfRange = rowMap.ge(kept);
        var bad = rowMap.masked_fill(rowMap.eq(rows - 1), int.MaxValue);   // one entry at int.MaxValue too
        var inRangeOnly = bad.masked_fill(outOfRange, -1);
        var firstRows = cpuPermuted.narrow(0, 0, kept).contiguous();
        var expectedSum = FusedRouting.GatherReduce(firstRows, inRangeOnly, probs, ScalarType.Float32);
        var actualSum = FusedRouting.GatherReduce(firstRows.cuda(), bad.cuda(), probs.cuda(), ScalarType.Float32);
        TensorAssert.Equal(expectedSum, actualSum.cpu(), "gather-reduce over the rows below 1000 only");

        const long guard = 64;
        var buffer = full(new[] { rows + guard, tokens.shape[1] }, 7.5f, device: CUDA);
        var probsBuffer = full(new[] { rows + guard }, -3f, device: CUDA);
        FusedRoutingCudaKernels.CopyToRows(tokens.cuda(), rowMap.cuda(), probs.cuda(), buffer.narrow(0, 0, kept), probsBuffer.narrow(0, 0, kept));
        TensorAssert.Equal(cpuPermuted.narrow(0, 0, kept), buffer.narrow(0, 0, kept).cpu(), "the rows below 1000");
        TensorAssert.Equal(cpuPermutedProbs!.narrow(0, 0, kept), probsBuffer.narrow(0, 0, kept).cpu(), "the probs below 1000");
        Assert.True(buffer.narrow(0, kept, rows + guard - kept).eq(7.5f).all().item<bool>(), "the permute wrote a row at or past 1000");
        Assert.True(probsBuffer.narrow(0, kept, rows + guard - kept).eq(-3f).all().item<bool>(), "the permute wrote a prob at or past 1000");
    }

    /// <summary>The first (token, expert) of the map that has a copy, or that has none.</summary>
    private static (long Token, long Expert) FirstEntry(Tensor rowMap, bool copy)
    {
        var at = (copy ? rowMap.ge(0) : rowMap.lt(0)).cpu().reshape(-1).nonzero()[0, 0].item<long>();
        return (at / rowMap.shape[1], at % rowMap.shape[1]);
    }

    private static void AssertCudaMatchesCpu(Tensor map, long? capacity, string what)
    {
        var (expected, expectedRows) = FusedRowMap.BuildOnCpu(map, capacity);
        var (actual, actualRows) = FusedRouting.BuildRowMap(map.cuda(), capacity);
        Assert.Equal(DeviceType.CUDA, actual.device_type);
        TensorAssert.Equal(expected, actual.cpu(), what);
        Assert.True(expectedRows == actualRows, $"{what}: {actualRows} rows, expected {expectedRows}.");
    }

    /// <summary>A <c>[T, E]</c> CPU map of <paramref name="dtype"/>, routed with probability <paramref name="density"/>;
    /// integer maps hold 1, -1, 2 or 3 where routed (any nonzero counts).</summary>
    internal static Tensor RandomMap(long tokens, long experts, double density, ScalarType dtype, long seed)
    {
        var generator = new Generator((ulong)seed);
        var routed = rand(new[] { tokens, experts }, generator: generator) < density;
        if (dtype == ScalarType.Bool)
            return routed;
        var values = randint(0, 4, new[] { tokens, experts }, ScalarType.Int64, generator: generator);
        var nonzero = values.masked_fill(values.eq(0), dtype == ScalarType.Byte ? 1 : -1);   // uint8 has no -1
        return routed.to(ScalarType.Int64).mul(nonzero).to(dtype);
    }
}
