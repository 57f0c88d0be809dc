using System;
using MoeOpGen.Moe;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Every bad input is an ArgumentException that names the offending argument.</summary>
public class RoutingValidationTests
{
    // Fresh tensors on each use: a static tensor could be disposed by whichever test's dispose scope created it.
    private static Tensor Tokens => randn(6, 4);
    private static Tensor Map => RoutingTestData.TopK(tokens: 6, experts: 3, k: 2, hidden: 1, seed: 31).RoutingMap;
    private static Tensor Probs => Map.to(ScalarType.Float32) * 0.5;

    public static TheoryData<string, string> BadPermuteCalls => new()
    {
        { "tokens 1-D", "tokens" },
        { "tokens 3-D", "tokens" },
        { "routing map 1-D", "routingMap" },
        { "routing map float", "routingMap" },
        { "routing map token count", "routingMap" },
        { "routing map without experts", "routingMap" },
        { "probs shape", "probs" },
        { "probs integer", "probs" },
        { "numOutTokens negative", "numOutTokens" },
        { "routing map requires grad in drop-and-pad", "routingMap" },
        { "probs on another device (meta)", "probs" },
    };

    [Theory, MemberData(nameof(BadPermuteCalls))]
    public void Permute_rejects(string problem, string parameter)
    {
        Action<bool> call = problem switch
        {
            "tokens 1-D" => fused => TokenPermutation.Permute(randn(6), Map, fused: fused),
            "tokens 3-D" => fused => TokenPermutation.Permute(randn(6, 2, 2), Map, fused: fused),
            "routing map 1-D" => fused => TokenPermutation.Permute(Tokens, ones(6, dtype: ScalarType.Bool), fused: fused),
            "routing map float" => fused => TokenPermutation.Permute(Tokens, Map.to(ScalarType.Float32), fused: fused),
            "routing map token count" => fused => TokenPermutation.Permute(Tokens, Map[..5], fused: fused),
            "routing map without experts" => fused => TokenPermutation.Permute(Tokens, zeros(new long[] { 6, 0 }, ScalarType.Bool), fused: fused),
            "probs shape" => fused => TokenPermutation.Permute(Tokens, Map, Probs[.., ..2], fused: fused),
            "probs integer" => fused => TokenPermutation.Permute(Tokens, Map, Map.to(ScalarType.Int64), fused: fused),
            "numOutTokens negative" => fused => TokenPermutation.Permute(Tokens, Map, numOutTokens: -1, fused: fused, dropAndPad: true),
            "routing map requires grad in drop-and-pad" => fused => TokenPermutation.Permute(Tokens, Map.to(ScalarType.Float32).requires_grad_(), numOutTokens: 6, fused: fused, dropAndPad: true),
            "probs on another device (meta)" => fused => TokenPermutation.Permute(Tokens, Map, Probs.to(DeviceType.META), fused: fused),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        foreach (bool fused in new[] { false, true })
        {
            var error = Assert.ThrowsAny<ArgumentException>(() => call(fused));
            Assert.Equal(parameter, error.ParamName);
        }
    }

    [Fact]
    public void Permute_rejects_null_tensors()
    {
        Assert.Equal("tokens", Assert.ThrowsAny<ArgumentException>(() => TokenPermutation.Permute(null!, Map)).ParamName);
        Assert.Equal("routingMap", Assert.ThrowsAny<ArgumentException>(() => TokenPermutation.Permute(Tokens, null!)).ParamName);
    }

    [Fact]
    public void Unpermute_rejects_bad_shapes_and_formats()
    {
        using var scope = NewDisposeScope();
        var (permuted, _, ids) = TokenPermutation.Permute(Tokens, Map);
        var (_, _, rowMap) = TokenPermutation.Permute(Tokens, Map, fused: true);
        var shape = new long[] { 6, 4 };

        void Rejects(string parameter, Action call) => Assert.Equal(parameter, Assert.ThrowsAny<ArgumentException>(call).ParamName);

        Rejects("permutedTokens", () => TokenPermutation.Unpermute(permuted.reshape(-1), ids, shape));
        Rejects("permutedTokens", () => TokenPermutation.Unpermute(permuted.to(ScalarType.Int32), ids, shape));
        Rejects("restoreShape", () => TokenPermutation.Unpermute(permuted, ids, new long[] { 6, 5 }));
        Rejects("restoreShape", () => TokenPermutation.Unpermute(permuted, ids, new long[] { 6, 4, 1 }));
        Rejects("restoreShape", () => TokenPermutation.Unpermute(permuted, ids, new long[] { -1, 4 }));
        Rejects("restoreShape", () => TokenPermutation.Unpermute(permuted, rowMap, new long[] { 5, 4 }, fused: true));
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids.to(ScalarType.Int32), shape));
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids[..5], shape));
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids + 6, shape));          // ids beyond T
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, rowMap, shape));           // fused map, fused: false
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids, shape, fused: true));  // token ids, fused: true
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted[..10], rowMap, shape, fused: true)); // rows ≠ map
        Rejects("routingMap", () => TokenPermutation.Unpermute(permuted, ids, shape, Probs));           // probs need the map
        Rejects("routingMap", () => TokenPermutation.Unpermute(permuted, ids, shape, Probs, Map[..5]));
        Rejects("probs", () => TokenPermutation.Unpermute(permuted, ids, shape, Probs[..5], Map));
        Rejects("probs", () => TokenPermutation.Unpermute(permuted, rowMap, shape, Probs[.., ..2], fused: true));
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted[..11], ids[..11], shape, Probs, Map, dropAndPad: true)); // 11 rows for 3 experts
        Rejects("routingMap", () => TokenPermutation.Unpermute(permuted[..11], ids[..11], shape, Probs, Map));   // 12 routed, 11 rows
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids.to(DeviceType.META), shape));
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, null!, shape));
        Rejects("restoreShape", () => TokenPermutation.Unpermute(permuted, ids, null!));
    }

    [Fact]
    public void The_fused_format_is_int32_tokens_by_experts_and_the_composite_format_int64_ids()
    {
        using var scope = NewDisposeScope();
        var (_, _, ids) = TokenPermutation.Permute(Tokens, Map);
        var (_, _, rowMap) = TokenPermutation.Permute(Tokens, Map, fused: true);
        Assert.Equal(ScalarType.Int64, ids.dtype);
        Assert.Equal(new long[] { 12 }, ids.shape);
        Assert.Equal(ScalarType.Int32, rowMap.dtype);
        Assert.Equal(new long[] { 6, 3 }, rowMap.shape);
        Assert.Equal(Map.to(ScalarType.Bool), rowMap.ge(0));
    }
}
