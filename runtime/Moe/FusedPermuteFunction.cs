using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Autograd function of the fused permute, on the CPU or CUDA (<see cref="FusedRouting"/>). Inputs: <c>tokens [T, H]</c>,
/// the row map, the row count (a <see cref="FusedRowCount"/>, which may still be in device memory) and optionally
/// <c>probs [T, E]</c>; outputs the permuted tokens and, with probs, the permuted probs. Backward is the gather-reduce: each token sums the gradients of its copies (ascending expert
/// order, fp32 or wider), and the probs receive the gradient of their permuted slot.
/// </summary>
/// <remarks>The function object is a process-wide singleton: every per-call value lives in the context. A pending
/// row count is read inside <c>forward</c>, after the autograd node is set up and the context is filled, so that host
/// work is done while the row-map kernels still run rather than after the read-back, with the GPU idle.</remarks>
internal sealed class FusedPermuteFunction : autograd.MultiTensorFunction<FusedPermuteFunction>
{
    public override string Name => "MoeOpGen.FusedPermute";

    /// <summary>Applies the function in its own dispose scope (torchsharp-notes §5) and returns its outputs.</summary>
    public static (Tensor Permuted, Tensor? PermutedProbs) Apply(Tensor tokens, Tensor rowMap, FusedRowCount rowCount, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        var outputs = probs is null ? apply(tokens, rowMap, rowCount) : apply(tokens, rowMap, rowCount, probs);
        foreach (var output in outputs)
            output.MoveToOuterDisposeScope();
        return (outputs[0], probs is null ? null : outputs[1]);
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.set_materialize_grads(false);
        var tokens = (Tensor)vars[0];
        var rowMap = (Tensor)vars[1];
        var rowCount = (FusedRowCount)vars[2];
        var probs = vars.Length > 3 ? (Tensor)vars[3] : null;

        ctx.save_for_backward(new() { rowMap });
        ctx.save_data(InputCountKey, vars.Length);
        ctx.save_data(TokenDtypeKey, tokens.dtype);
        var (permuted, permutedProbs) = FusedRouting.Permute(tokens, rowMap, rowCount, probs);
        return permutedProbs is null ? new() { permuted } : new() { permuted, permutedProbs };
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
    {
        int inputCount = (int)ctx.get_data(InputCountKey);
        return BackwardErrorTrap.Run(Name, inputCount, () =>
        {
            var rowMap = ctx.get_saved_variables()[0];
            var tokenDtype = (ScalarType)ctx.get_data(TokenDtypeKey);
            var tokensGrad = BackwardErrorTrap.IsPresent(grads[0])
                ? FusedRouting.GatherReduce(grads[0], rowMap, weights: null, RoutingPrecision.Accumulator(tokenDtype))
                : null;
            var result = new List<Tensor> { tokensGrad!, null!, null! };   // no gradient for the map and the count
            if (inputCount > 3)
                result.Add(grads.Count > 1 && BackwardErrorTrap.IsPresent(grads[1])
                    ? FusedRouting.GatherProbsGrad(grads[1], rowMap)
                    : null!);
            return result;
        });
    }

    private const string InputCountKey = "inputCount";
    private const string TokenDtypeKey = "tokenDtype";
}
