using System.Linq;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Edge cases of the reference semantics (moe_utils-semantics.md §6), on both paths.</summary>
public class RoutingEdgeCaseTests
{
    public static TheoryData<bool> BothPaths => new(false, true);

    [Theory, MemberData(nameof(BothPaths))]
    public void Drop_and_pad_keeps_the_lowest_routed_ids_then_pads_with_unrouted_ids(bool fused)
    {
        using var scope = NewDisposeScope();
        // The reference's own example (verified on H200): C = 6 / 2 = 3 → expert 0 [1, 3, 0], expert 1 [2, 0, 1].
        var map = RoutingTestData.Map(new[] { 0, 0 }, new[] { 1, 0 }, new[] { 0, 1 }, new[] { 1, 0 });
        var tokens = arange(4, ScalarType.Float32).unsqueeze(1);
        var probs = tensor(new float[] { 0, 0, .9f, 0, 0, .8f, .7f, 0 }, new long[] { 4, 2 });
        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, numOutTokens: 6, fused: fused, dropAndPad: true);
        Assert.Equal(new long[] { 1, 3, 0, 2, 0, 1 }, TokenIds(indices, 6, fused));
        Assert.Equal(new float[] { 1, 3, 0, 2, 0, 1 }, permuted.reshape(-1).data<float>().ToArray());
        Assert.Equal(new float[] { .9f, .7f, 0, .8f, 0, 0 }, permutedProbs!.data<float>().ToArray());
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void Drop_and_pad_drops_the_highest_routed_ids_on_overflow(bool fused)
    {
        using var scope = NewDisposeScope();
        // Expert 0 gets 4 tokens for capacity 2: tokens 3 and 4 are dropped. Expert 1 gets token 2 plus padding 0.
        var map = RoutingTestData.Map(new[] { 1, 0 }, new[] { 1, 0 }, new[] { 0, 1 }, new[] { 1, 0 }, new[] { 1, 0 });
        var tokens = arange(5, ScalarType.Float32).unsqueeze(1);
        var (_, _, indices) = TokenPermutation.Permute(tokens, map, numOutTokens: 5, fused: fused, dropAndPad: true);   // C = 5 / 2 = 2
        Assert.Equal(new long[] { 0, 1, 2, 0 }, TokenIds(indices, 4, fused));
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void Capacity_is_floor_of_num_out_tokens_over_experts_and_at_most_the_token_count(bool fused)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, _) = RoutingTestData.TopK(tokens: 5, experts: 3, k: 2, hidden: 2, seed: 3);
        Assert.Equal(3 * 2, TokenPermutation.Permute(tokens, map, numOutTokens: 8, fused: fused, dropAndPad: true).PermutedInput.shape[0]);
        // 100 / 3 = 33 > T = 5: the reference's slice stops at T, so every expert lists all 5 tokens.
        var (wide, _, indices) = TokenPermutation.Permute(tokens, map, numOutTokens: 100, fused: fused, dropAndPad: true);
        Assert.Equal(3 * 5, wide.shape[0]);
        var ids = TokenIds(indices, 15, fused);
        for (int e = 0; e < 3; e++)
            Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, ids.Skip(5 * e).Take(5).OrderBy(i => i).ToArray());
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void Drop_and_pad_without_num_out_tokens_is_dropless(bool fused)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, _) = RoutingTestData.TopK(tokens: 6, experts: 4, k: 2, hidden: 3, seed: 4);
        var dropless = TokenPermutation.Permute(tokens, map, fused: fused);
        var flagged = TokenPermutation.Permute(tokens, map, fused: fused, dropAndPad: true);
        TensorAssert.Equal(dropless.PermutedInput, flagged.PermutedInput, "rows");
        TensorAssert.Equal(dropless.SortedIndices, flagged.SortedIndices, "indices");
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void Zero_tokens_give_empty_outputs_and_gradients(bool fused)
    {
        using var scope = NewDisposeScope();
        var tokens = zeros(0, 3).requires_grad_();
        var map = zeros(new long[] { 0, 4 }, ScalarType.Bool);
        var probs = zeros(0, 4).requires_grad_();
        foreach (bool dropAndPad in new[] { false, true })
        {
            var (permuted, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, dropAndPad ? 8 : null, fused, dropAndPad);
            Assert.Equal(new long[] { 0, 3 }, permuted.shape);
            Assert.Equal(new long[] { 0 }, permutedProbs!.shape);
            var output = TokenPermutation.Unpermute(permuted, indices, new long[] { 0, 3 }, probs, map, fused, dropAndPad);
            Assert.Equal(new long[] { 0, 3 }, output.shape);
            (output.sum() + permutedProbs.sum()).backward();
            Assert.Equal(new long[] { 0, 3 }, tokens.grad!.shape);
        }
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void An_expert_without_tokens_gets_no_rows_or_only_padding(bool fused)
    {
        using var scope = NewDisposeScope();
        var map = RoutingTestData.Map(new[] { 1, 0, 1 }, new[] { 1, 0, 0 }, new[] { 0, 0, 1 });   // expert 1 empty
        var tokens = arange(3, ScalarType.Float32).unsqueeze(1);
        var probs = map.to(ScalarType.Float32) * 0.5;
        var (_, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, fused: fused);
        Assert.Equal(new long[] { 0, 1, 0, 2 }, TokenIds(indices, 4, fused));
        var (_, paddedProbs, padded) = TokenPermutation.Permute(tokens, map, probs, numOutTokens: 6, fused: fused, dropAndPad: true);
        Assert.Equal(new long[] { 0, 1, 0, 1, 0, 2 }, TokenIds(padded, 6, fused));     // expert 1: padding 0, 1
        Assert.Equal(new float[] { .5f, .5f, 0, 0, .5f, .5f }, paddedProbs!.data<float>().ToArray());
        var output = TokenPermutation.Unpermute(tokens.index_select(0, tensor(TokenIds(indices, 4, fused))), indices, new long[] { 3, 1 }, probs, map, fused);
        Assert.Equal(new float[] { 0 * .5f * 2, 1 * .5f, 2 * .5f }, output.reshape(-1).data<float>().ToArray());
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void All_tokens_to_one_expert_keep_their_order(bool fused)
    {
        using var scope = NewDisposeScope();
        var tokens = randn(7, 4);
        var map = zeros(new long[] { 7, 3 }, ScalarType.Bool).index_fill(1, tensor(new long[] { 2 }), true);
        var (permuted, _, indices) = TokenPermutation.Permute(tokens, map, fused: fused);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long)i).ToArray(), TokenIds(indices, 7, fused));
        TensorAssert.Equal(tokens, permuted, "rows");
    }

    [Theory, MemberData(nameof(BothPaths))]
    public void Top_k_equal_to_experts_copies_every_token_to_every_expert(bool fused)
    {
        using var scope = NewDisposeScope();
        var tokens = randn(5, 3, dtype: ScalarType.Float64);
        var map = ones(new long[] { 5, 4 }, ScalarType.Bool);
        var (permuted, _, indices) = TokenPermutation.Permute(tokens, map, fused: fused);
        var expected = Enumerable.Repeat(Enumerable.Range(0, 5).Select(i => (long)i), 4).SelectMany(x => x).ToArray();
        Assert.Equal(expected, TokenIds(indices, 20, fused));
        var output = TokenPermutation.Unpermute(permuted, indices, new long[] { 5, 3 }, fused: fused);
        TensorAssert.Close(tokens * 4, output, "sum of the 4 copies");
    }

    [Fact]
    public void Integer_routing_maps_count_nonzero_entries_as_routed()
    {
        using var scope = NewDisposeScope();
        var (tokens, boolMap, probs) = RoutingTestData.TopK(tokens: 9, experts: 4, k: 2, hidden: 3, seed: 5);
        var intMap = boolMap.to(ScalarType.Int32) * 3;   // 0/3, to show any nonzero value routes
        foreach (bool fused in new[] { false, true })
            foreach (bool dropAndPad in new[] { false, true })
            {
                long? numOutTokens = dropAndPad ? 12 : null;
                var expected = TokenPermutation.Permute(tokens, boolMap, probs, numOutTokens, fused, dropAndPad);
                var actual = TokenPermutation.Permute(tokens, intMap, probs, numOutTokens, fused, dropAndPad);
                TensorAssert.Equal(expected.PermutedInput, actual.PermutedInput, $"rows fused={fused} dropAndPad={dropAndPad}");
                TensorAssert.Equal(expected.SortedIndices, actual.SortedIndices, "indices");
            }
    }

    [Fact]
    public void Fused_dropless_num_out_tokens_must_match_the_routed_count()
    {
        using var scope = NewDisposeScope();
        var (tokens, map, _) = RoutingTestData.TopK(tokens: 6, experts: 4, k: 2, hidden: 3, seed: 6);
        Assert.Equal(12, TokenPermutation.Permute(tokens, map, numOutTokens: 12, fused: true).PermutedInput.shape[0]);
        foreach (long wrong in new[] { 11L, 0, 13, 24, 25, 1L << 40 })   // below, above, T·E, past T·E, past int32
        {
            var error = Assert.ThrowsAny<System.ArgumentException>(() => TokenPermutation.Permute(tokens, map, numOutTokens: wrong, fused: true));
            Assert.True(error.ParamName == "numOutTokens", $"numOutTokens {wrong}: the error names {error.ParamName}.");
        }
        // The composite dropless path ignores it, as the reference does.
        Assert.Equal(12, TokenPermutation.Permute(tokens, map, numOutTokens: 11).PermutedInput.shape[0]);
    }

    private static long[] TokenIds(Tensor indices, long rows, bool fused)
        => fused ? RoutingTestData.TokenIdsOf(indices, rows) : indices.data<long>().ToArray();
}
