using System;
using System.Linq;
using MoeOpGen.Moe;
using MoeOpGen.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeDemo;

/// <summary>What one forward pass of <see cref="MoeLayer"/> returns.</summary>
/// <param name="Output">The layer's output <c>[tokens, hidden]</c>.</param>
/// <param name="AuxLoss">The load-balancing loss, already multiplied by its coefficient (for display: its gradient
/// is injected by <see cref="MoEAuxLossAutoScaler"/>, so it is not added to the main loss).</param>
/// <param name="TokensPerExpert">How many tokens each expert received (on the host).</param>
public sealed record MoeForward(Tensor Output, Tensor AuxLoss, long[] TokensPerExpert);

/// <summary>
/// A Mixture-of-Experts feed-forward layer from MoeOpGen's pieces:
/// <list type="number">
/// <item>router: a linear map to expert logits, softmax, top-k, the chosen probs renormalised to sum to 1;</item>
/// <item>the Switch-Transformer load-balancing loss <c>E · Σ_e f_e · P_e</c>, attached to the probs with
/// <see cref="MoEAuxLossAutoScaler"/> (its gradient flows in backward without being added to the loss);</item>
/// <item><see cref="MoeUtils.Permute"/>: token copies grouped by expert;</item>
/// <item>each expert's MLP <c>act(x W_up) W_down</c>, <c>act</c> a generated gated operator;</item>
/// <item><see cref="MoeUtils.Unpermute"/>: the expert outputs summed back per token, weighted by the probs.</item>
/// </list>
/// </summary>
public sealed class MoeLayer : nn.Module<Tensor, MoeForward>
{
    private readonly Linear router;
    private readonly Parameter upProjection;     // [E, hidden, 2F]: gate and linear halves side by side
    private readonly Parameter downProjection;   // [E, F, hidden]
    private readonly GatedActivation activation;
    private readonly int topK;
    private readonly double auxLossCoeff;
    private readonly double? clampValue;

    public MoeLayer(int hidden, int ffn, int experts, int topK, GatedActivation activation, double auxLossCoeff, double? clampValue)
        : base(nameof(MoeLayer))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ffn, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        if (topK < 1 || topK > experts) throw new ArgumentOutOfRangeException(nameof(topK), topK, $"Must be between 1 and experts ({experts}).");
        ArgumentNullException.ThrowIfNull(activation);
        router = nn.Linear(hidden, experts, hasBias: false);
        upProjection = new Parameter(randn(experts, hidden, 2 * ffn) / Math.Sqrt(hidden));
        // Small output projection: the layer starts near zero output, so the first losses are about the targets'
        // variance instead of the square of a random MLP's output.
        downProjection = new Parameter(randn(experts, ffn, hidden) * (0.1 / Math.Sqrt(ffn)));
        this.activation = activation;
        this.topK = topK;
        this.auxLossCoeff = auxLossCoeff;
        this.clampValue = clampValue;
        RegisterComponents();
    }

    public override MoeForward forward(Tensor tokens)
    {
        long tokenCount = tokens.shape[0], experts = upProjection.shape[0];

        // 1. Router.
        var scores = router.forward(tokens).softmax(-1);                                      // [T, E]
        var (topProbs, topExperts) = scores.topk(topK, dim: 1);                               // [T, k]
        topProbs = topProbs / topProbs.sum(-1, keepdim: true);
        var routingMap = zeros(tokenCount, experts, ScalarType.Bool, tokens.device).scatter(1, topExperts, ones_like(topExperts, ScalarType.Bool));
        var probs = zeros_like(scores).scatter(1, topExperts, topProbs);                       // [T, E], differentiable

        // 2. Load balancing: f_e = share of routed copies that go to e, P_e = mean router score of e.
        var share = routingMap.to(scores.dtype).mean([0L]) / topK;
        var auxLoss = experts * (share * scores.mean([0L])).sum() * auxLossCoeff;
        probs = MoEAuxLossAutoScaler.Apply(probs, auxLoss);

        // 3–5. Permute, experts, unpermute.
        var (permuted, _, sortedIndices) = MoeUtils.Permute(tokens, routingMap);
        long[] tokensPerExpert = routingMap.sum([0L]).cpu().data<long>().ToArray();
        var rows = permuted.split(tokensPerExpert, dim: 0);                                    // expert-major rows
        var expertOutputs = new Tensor[experts];
        for (int e = 0; e < experts; e++)
            expertOutputs[e] = activation(rows[e].matmul(upProjection[e]), clampValue).matmul(downProjection[e]);
        var output = MoeUtils.Unpermute(cat(expertOutputs, 0), sortedIndices, [tokenCount, tokens.shape[1]], probs, routingMap);
        return new MoeForward(output, auxLoss, tokensPerExpert);
    }
}
