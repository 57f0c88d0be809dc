using System;
using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// Permute and unpermute where the permuted tensor has more than 2³¹ elements, on both paths: element offsets past
/// int32 must be computed in 64 bits (TransformerEngine's permute once wrapped there, TE #2908). bf16 tokens
/// <c>[T, H]</c> with T·H just over 2³⁰, each routed to 2 of 8 experts, so the permuted rows hold just over 2³¹
/// elements (4 GiB). Sampled rows, the last ones (the largest offsets) among them, are checked on the host.
/// </summary>
[Trait("Category", "Gpu")]
public class RoutingLargeCudaTests
{
    private const int Experts = 8;

    /// <summary>Device memory the test may need at its peak (the non-fused unpermute holds fp32 copies of the rows).</summary>
    private const long RequiredBytes = 40L << 30;

    /// <summary>Hidden 4097 (odd): rows of 8194 bytes take the 2-byte permute and the scalar unpermute, whose offsets
    /// count elements, so they pass 2³¹. Hidden 4096 takes the 16-byte kernels (offsets count 16-byte packs).</summary>
    [Theory]
    [InlineData(4097L, true)]
    [InlineData(4097L, false)]
    [InlineData(4096L, true)]
    public void Rows_times_hidden_beyond_two_to_the_31_permute_and_unpermute_correctly(long hidden, bool fused)
    {
        FusedRoutingCudaTests.RequireCuda();
        RequireMemory();
        using var scope = NewDisposeScope();

        long tokens = (1L << 30) / hidden + 1;
        var (routed, expectedRowToken, expectedRowExpert) = Routing(tokens, seed: 71);
        long rows = expectedRowToken.LongLength;
        Assert.True(rows * hidden > 1L << 31, $"{rows} × {hidden} must exceed 2³¹.");

        var map = tensor(routed, [tokens, Experts]).cuda();
        var probs = (tensor(routed, [tokens, Experts]).to(ScalarType.Float32) * 0.375f + 0.125f).cuda();   // 0.5 routed, 0.125 not
        var x = randn(new[] { tokens, hidden }, dtype: ScalarType.BFloat16, device: CUDA);   // checked against itself: any values

        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(x, map, probs, fused: fused);
        Assert.Equal(new[] { rows, hidden }, permuted.shape);
        var sampleRows = new[] { 0L, 1, rows / 2, rows - Experts * 3, rows - 2, rows - 1 }
            .Concat(Enumerable.Range(0, 8).Select(i => new Random(73 + i).NextInt64(rows))).Distinct().ToArray();
        foreach (long r in sampleRows)
        {
            long t = expectedRowToken[r];
            TensorAssert.Equal(x[t].cpu(), permuted[r].cpu(), $"permuted row {r} (token {t}, element offset {r * hidden})");
            Assert.Equal(0.5f, permutedProbs![r].cpu().item<float>());
        }
        if (!fused)
            Assert.Equal(expectedRowToken[^1], indices[rows - 1].cpu().item<long>());
        else
            Assert.Equal((int)(rows - 1), indices[expectedRowToken[^1], expectedRowExpert[^1]].cpu().item<int>());

        // Each token has two copies, weighted 0.5 each: the fp32 sums 0.5x + 0.5x = x are exact, so the unpermute
        // restores the tokens bit for bit (on both paths; the order of the two additions cannot matter).
        var restored = TokenPermutation.Unpermute(permuted, indices, x.shape, probs, map, fused);
        var sampleTokens = sampleRows.Select(r => expectedRowToken[r]).Append(tokens - 1).Distinct();
        foreach (long t in sampleTokens)
            TensorAssert.Equal(x[t].cpu(), restored[t].cpu(), $"unpermuted token {t}");
    }

    /// <summary>
    /// Skips unless <see cref="RequiredBytes"/> can be allocated. The driver's free memory is not the measure: memory
    /// that earlier tests freed stays in PyTorch's caching allocator, counted as used by the driver but available to
    /// this test. So the test asks the allocator itself (which releases its cache and retries before giving up).
    /// </summary>
    private static void RequireMemory()
    {
        var (free, total) = CudaKernels.MemoryInfo(0);
        Assert.SkipWhen((long)total < RequiredBytes, $"Needs about {RequiredBytes >> 30} GiB of GPU memory; the device has {total >> 30} GiB.");
        try
        {
            empty(RequiredBytes, ScalarType.Byte, CUDA).Dispose();
        }
        catch (Exception e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Skip($"Needs about {RequiredBytes >> 30} GiB of free GPU memory; the allocator could not provide it ({free >> 30} GiB free by the driver's count).");
        }
    }

    /// <summary>Each token to 2 distinct random experts of 8; the expected layout (expert-major, token-ascending).</summary>
    private static (bool[] Routed, long[] RowToken, int[] RowExpert) Routing(long tokens, int seed)
    {
        var random = new Random(seed);
        var routed = new bool[tokens * Experts];
        for (long t = 0; t < tokens; t++)
        {
            int first = random.Next(Experts), second = (first + 1 + random.Next(Experts - 1)) % Experts;
            routed[t * Experts + first] = routed[t * Experts + second] = true;
        }
        var rowToken = new long[tokens * 2];
        var rowExpert = new int[tokens * 2];
        long row = 0;
        for (int e = 0; e < Experts; e++)
            for (long t = 0; t < tokens; t++)
                if (routed[t * Experts + e])
                {
                    rowToken[row] = t;
                    rowExpert[row++] = e;
                }
        return (routed, rowToken, rowExpert);
    }
}
