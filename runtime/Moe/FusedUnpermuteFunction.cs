using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Autograd function of the fused unpermute (gather-reduce), on the CPU or CUDA (<see cref="FusedRouting"/>). Inputs:
/// the permuted tokens <c>[R, H]</c>, the row map <c>[T, E]</c> and optionally <c>probs [T, E]</c>; output
/// <c>[T, H]</c> in the tokens' dtype.
/// Backward: each copy's row gets <c>p · grad[t]</c>; each routed prob gets <c>Σ_h x_row · grad[t]</c>.
/// </summary>
/// <remarks>The function object is a process-wide singleton: every per-call value lives in the context.</remarks>
internal sealed class FusedUnpermuteFunction : autograd.MultiTensorFunction<FusedUnpermuteFunction>
{
    public override string Name => "MoeOpGen.FusedUnpermute";

    /// <summary>Applies the function in its own dispose scope (torchsharp-notes §5) and returns its output.</summary>
    public static Tensor Apply(Tensor permutedTokens, Tensor rowMap, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        var outputs = probs is null ? apply(permutedTokens, rowMap) : apply(permutedTokens, rowMap, probs);
        return outputs[0].MoveToOuterDisposeScope();
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.set_materialize_grads(false);
        var permuted = (Tensor)vars[0];
        var rowMap = (Tensor)vars[1];
        var probs = vars.Length > 2 ? (Tensor)vars[2] : null;
        var accumulator = RoutingPrecision.Accumulator(permuted.dtype, probs?.dtype);

        var output = FusedRouting.GatherReduce(permuted, rowMap, probs, accumulator);
        // The permuted rows are only needed for the probs' gradient.
        ctx.save_for_backward(probs is null ? new() { rowMap } : new() { rowMap, permuted, probs });
        ctx.save_data(RowCountKey, permuted.shape[0]);
        ctx.save_data(RowsDtypeKey, permuted.dtype);
        ctx.save_data(AccumulatorKey, accumulator);
        ctx.save_data(WithProbsKey, probs is not null);
        return new() { output };
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
    {
        bool withProbs = (bool)ctx.get_data(WithProbsKey);
        int inputCount = withProbs ? 3 : 2;
        return BackwardErrorTrap.Run(Name, inputCount, () =>
        {
            var result = new List<Tensor> { null!, null! };                 // no gradient for the map
            if (withProbs)
                result.Add(null!);
            if (!BackwardErrorTrap.IsPresent(grads[0]))
                return result;
            var saved = ctx.get_saved_variables();
            var rowMap = saved[0];
            var (rowsGrad, probsGrad) = FusedRouting.GatherReduceBackward(
                grads[0], rowMap, (long)ctx.get_data(RowCountKey), (ScalarType)ctx.get_data(RowsDtypeKey),
                rows: withProbs ? saved[1] : null, weights: withProbs ? saved[2] : null,
                (ScalarType)ctx.get_data(AccumulatorKey), withProbs ? saved[2].dtype : null);
            result[0] = rowsGrad;
            if (withProbs)
                result[2] = probsGrad!;
            return result;
        });
    }

    private const string RowCountKey = "rowCount";
    private const string RowsDtypeKey = "rowsDtype";
    private const string AccumulatorKey = "accumulator";
    private const string WithProbsKey = "withProbs";
}
