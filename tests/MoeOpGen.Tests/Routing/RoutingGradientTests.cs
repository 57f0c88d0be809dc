using System.Linq;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Gradients of permute and unpermute against fp64 central differences, and round trips.</summary>
public class RoutingGradientTests
{
    private const double GradientRtol = 1e-6, GradientAtol = 1e-8;

    public static TheoryData<bool, bool> PathsAndLayouts => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory, MemberData(nameof(PathsAndLayouts))]
    public void Permute_gradients_match_finite_differences(bool fused, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 7, experts: 4, k: 2, hidden: 3, seed: 21, ScalarType.Float64);
        probs = probs.to(ScalarType.Float64);
        long? numOutTokens = dropAndPad ? 10 : null;   // capacity 2 of up to 7 per expert: drops and pads
        long rows = dropAndPad ? 8 : 14;
        var rowWeights = randn(rows, 3, dtype: ScalarType.Float64);
        var probWeights = randn(rows, dtype: ScalarType.Float64);
        Tensor Loss()
        {
            var (permuted, permutedProbs, _) = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused, dropAndPad);
            return (permuted * rowWeights).sum() + (permutedProbs! * probWeights).sum();
        }

        tokens.requires_grad_();
        probs.requires_grad_();
        Loss().backward();
        var tokensGrad = tokens.grad!.clone();
        var probsGrad = probs.grad!.clone();
        double LossValue() { using var s = NewDisposeScope(); using var ng = no_grad(); return Loss().item<double>(); }
        TensorAssert.Close(FiniteDifference.Gradient(LossValue, tokens), tokensGrad, GradientRtol, GradientAtol, "tokens grad");
        TensorAssert.Close(FiniteDifference.Gradient(LossValue, probs), probsGrad, GradientRtol, GradientAtol, "probs grad");
    }

    [Theory, MemberData(nameof(PathsAndLayouts))]
    public void Unpermute_gradients_match_finite_differences(bool fused, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 7, experts: 4, k: 2, hidden: 3, seed: 22, ScalarType.Float64);
        probs = probs.to(ScalarType.Float64);
        long? numOutTokens = dropAndPad ? 10 : null;
        var (permuted, _, indices) = TokenPermutation.Permute(tokens, map, probs, numOutTokens, fused, dropAndPad);
        var rows = (permuted * 0.5 + 1).detach();   // expert outputs
        var outputWeights = randn(7, 3, dtype: ScalarType.Float64);
        foreach (bool withProbs in new[] { false, true })
        {
            Tensor Loss()
            {
                var output = TokenPermutation.Unpermute(rows, indices, tokens.shape, withProbs ? probs : null, map, fused, dropAndPad);
                return (output * outputWeights).sum();
            }
            rows.grad?.zero_();
            probs.grad?.zero_();
            rows.requires_grad_();
            probs.requires_grad_();
            Loss().backward();
            double LossValue() { using var s = NewDisposeScope(); using var ng = no_grad(); return Loss().item<double>(); }
            TensorAssert.Close(FiniteDifference.Gradient(LossValue, rows), rows.grad!, GradientRtol, GradientAtol, $"rows grad (probs: {withProbs})");
            if (withProbs)
                TensorAssert.Close(FiniteDifference.Gradient(LossValue, probs), probs.grad!, GradientRtol, GradientAtol, "probs grad");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Probs_get_no_gradient_where_they_were_not_gathered(bool fused)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 40, experts: 6, k: 2, hidden: 5, seed: 23);
        // Probs that are nonzero everywhere, so a leak into unrouted positions would show.
        probs = (probs + 0.01).requires_grad_();
        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, fused: fused);
        var output = TokenPermutation.Unpermute(permuted, indices, tokens.shape, probs, map, fused);
        (output.pow(2).sum() + permutedProbs!.sum()).backward();
        var unrouted = map.logical_not();
        Assert.Equal(0, probs.grad!.masked_select(unrouted).abs().sum().item<float>());
        Assert.True(probs.grad!.masked_select(map).ne(0).all().item<bool>(), "every routed prob gets a gradient");

        // Drop-and-pad gathers the kept routed pairs plus padding pairs; everything else, dropped pairs included,
        // gets zero, exactly as the reference's index_select would give.
        probs.grad!.zero_();
        var (_, paddedProbs, padded) = TokenPermutation.Permute(tokens, map, probs, numOutTokens: 30, fused: fused, dropAndPad: true);
        paddedProbs!.sum().backward();
        var gathered = zeros(new long[] { 40, 6 }, ScalarType.Bool);
        var ids = fused ? RoutingTestData.TokenIdsOf(padded, 30) : padded.data<long>().ToArray();
        for (int row = 0; row < ids.Length; row++)
            gathered[ids[row], row / 5] = true;   // capacity 30 / 6 = 5 rows per expert
        TensorAssert.Equal(gathered.to(ScalarType.Float32), probs.grad!, "probs grad = 1 exactly at gathered pairs");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Round_trip_sums_the_copies_or_restores_the_tokens_with_normalised_probs(bool fused)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 50, experts: 8, k: 3, hidden: 6, seed: 24);
        var (permuted, _, indices) = TokenPermutation.Permute(tokens, map, fused: fused);
        var copiesPerToken = map.sum(1, type: ScalarType.Float32).unsqueeze(1);
        TensorAssert.Close(tokens * copiesPerToken, TokenPermutation.Unpermute(permuted, indices, tokens.shape, fused: fused), "k·x");
        TensorAssert.Close(tokens, TokenPermutation.Unpermute(permuted, indices, tokens.shape, probs, map, fused), "x with probs summing to 1");
    }

    [Fact]
    public void Backward_through_both_fused_functions_matches_the_composite_path()
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 64, experts: 8, k: 2, hidden: 16, seed: 25, ScalarType.BFloat16);
        var grads = new[] { false, true }.Select(fused =>
        {
            var x = tokens.detach().clone().requires_grad_();
            var p = probs.detach().clone().requires_grad_();
            var (permuted, permutedProbs, indices) = TokenPermutation.Permute(x, map, p, fused: fused);
            var expertOutput = permuted * permutedProbs!.to(permuted.dtype).unsqueeze(1);
            var output = TokenPermutation.Unpermute(expertOutput, indices, x.shape, p, map, fused);
            output.to(ScalarType.Float32).pow(2).sum().backward();
            return (x.grad!, p.grad!);
        }).ToArray();
        TensorAssert.Close(grads[0].Item1, grads[1].Item1, "bf16 tokens grad");
        TensorAssert.Close(grads[0].Item2, grads[1].Item2, 1e-5, 1e-4, "fp32 probs grad (from bf16 rows)");
    }
}
