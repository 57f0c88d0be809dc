using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The non-fused routing path: the reference's algorithm written with differentiable TorchSharp ops
/// (masked_select, index_select, index_add), so autograd supplies every gradient. Arguments are already checked.
/// </summary>
internal static class CompositeRouting
{
    /// <summary>Permute; <paramref name="capacity"/> is null for the dropless layout, else rows per expert.</summary>
    public static (Tensor Permuted, Tensor? PermutedProbs, Tensor SortedIndices) Permute(
        Tensor tokens, Tensor routingMap, Tensor? probs, long? capacity)
    {
        using var scope = NewDisposeScope();
        long tokenCount = tokens.shape[0];
        long experts = routingMap.shape[1];
        // Nonzero counts as routed; [E, T] so that a row-major walk is expert-major, token-ascending.
        var routedByExpert = routingMap.to(ScalarType.Bool).t().contiguous();
        Tensor sortedIndices;
        Tensor? permutedProbs = null;
        if (capacity is long c)
        {
            // A stable descending sort of the 0/1 flags lists, per expert, the routed token ids ascending, then the
            // unrouted ids ascending (the padding); keeping the first C drops the highest routed ids on overflow.
            var chosen = routedByExpert.to(ScalarType.Int8).sort(-1, descending: true, stable: true).Indices.narrow(1, 0, c);
            sortedIndices = chosen.reshape(-1);
            if (probs is not null)
            {
                var flatIndex = (arange(experts, ScalarType.Int64, tokens.device).unsqueeze(1) * tokenCount + chosen).reshape(-1);
                permutedProbs = probs.t().contiguous().reshape(-1).index_select(0, flatIndex);
            }
        }
        else
        {
            sortedIndices = arange(tokenCount, ScalarType.Int64, tokens.device).expand(experts, tokenCount).masked_select(routedByExpert);
            permutedProbs = probs?.t().contiguous().masked_select(routedByExpert);
        }
        var permuted = tokens.index_select(0, sortedIndices);
        return (permuted.MoveToOuterDisposeScope(), permutedProbs?.MoveToOuterDisposeScope(), sortedIndices.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Unpermute: <c>out[t] = Σ_{m: s_m = t} p_m · x_m</c>, summed with index_add in the accumulator dtype
    /// (<see cref="RoutingPrecision"/>) and returned in the tokens' dtype.
    /// </summary>
    public static Tensor Unpermute(Tensor permuted, Tensor sortedIndices, long[] restoreShape, Tensor? probs,
                                   Tensor? routingMap, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        var accumulator = RoutingPrecision.Accumulator(permuted.dtype, probs?.dtype);
        var rows = permuted.to(accumulator);
        if (probs is not null)
        {
            var permutedProbs = dropAndPad
                ? GatherDropAndPadProbs(probs, sortedIndices, routingMap!.shape[1])
                : probs.t().contiguous().masked_select(routingMap!.to(ScalarType.Bool).t().contiguous());
            rows = rows * permutedProbs.to(accumulator).unsqueeze(1);
        }
        var output = zeros(restoreShape, accumulator, permuted.device).index_add(0, sortedIndices, rows, 1.0);
        return output.to(permuted.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The probs of a drop-and-pad layout: slot <c>(e, c)</c> takes <c>probs[S[e, c], e]</c>.</summary>
    private static Tensor GatherDropAndPadProbs(Tensor probs, Tensor sortedIndices, long experts)
    {
        long capacity = sortedIndices.shape[0] / experts;
        var expertBase = arange(experts, ScalarType.Int64, probs.device).unsqueeze(1) * probs.shape[0];
        var flatIndex = (expertBase + sortedIndices.reshape(experts, capacity)).reshape(-1);
        return probs.t().contiguous().reshape(-1).index_select(0, flatIndex);
    }
}
