using MoeOpGen.Moe;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Routing leaves no tensor behind once the caller's dispose scope ends (forward and backward).</summary>
public class RoutingDisposalTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_forward_and_backward_inside_a_scope_leave_no_live_tensors(bool fused)
    {
        var statistics = DisposeScopeManager.Statistics;
        long before = statistics.ThreadTotalLiveCount;
        using (NewDisposeScope())
        {
            var (tokens, map, probs) = RoutingTestData.TopK(tokens: 50, experts: 6, k: 2, hidden: 8, seed: 51);
            tokens.requires_grad_();
            probs.requires_grad_();
            foreach (bool dropAndPad in new[] { false, true })
            {
                var (permuted, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, dropAndPad ? 40 : null, fused, dropAndPad);
                var output = TokenPermutation.Unpermute(permuted * permutedProbs!.unsqueeze(1), indices, tokens.shape, probs, map, fused, dropAndPad);
                output.sum().backward();
            }
            Assert.NotNull(tokens.grad);
        }
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }
}
