using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Tensor-level entry points of the fused CUDA routing path: allocate outputs on the device, bring operands to the
/// dtypes the kernels take, and launch <see cref="FusedRoutingCudaKernels"/>. Same signatures and results as
/// <see cref="FusedRoutingCpu"/> (the permuted tokens, the sums and the rows' gradient are bit-identical to it;
/// the probs' gradient is a dot product reduced in another order, so it agrees to rounding).
/// </summary>
internal static class FusedRoutingCuda
{
    /// <summary>Permute forward. Returns the <c>[rowCount, H]</c> permuted tokens and, with probs, the permuted probs.</summary>
    public static (Tensor Permuted, Tensor? PermutedProbs) Permute(Tensor tokens, Tensor rowMap, long rowCount, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        // Every row of a map built by Permute has an owner (FusedRowMap), so the kernel writes every row.
        var permuted = empty(new[] { rowCount, tokens.shape[1] }, tokens.dtype, tokens.device);
        var permutedProbs = probs is null ? null : empty(new[] { rowCount }, probs.dtype, probs.device);
        FusedRoutingCudaKernels.CopyToRows(tokens.contiguous(), rowMap.contiguous(), probs?.contiguous(), permuted, permutedProbs);
        return (permuted.MoveToOuterDisposeScope(), permutedProbs?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Gather-reduce: <c>[T, H]</c> sums of each token's rows (weighted by <paramref name="weights"/> when given),
    /// accumulated in <paramref name="accumulator"/> and returned in the dtype of <paramref name="rows"/>.
    /// </summary>
    public static Tensor GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, ScalarType accumulator)
    {
        using var scope = NewDisposeScope();
        var work = RoutingPrecision.WorkingRows(rows, accumulator);
        var output = empty(new[] { rowMap.shape[0], rows.shape[1] }, work.dtype, rows.device);   // every token row is written
        var w = weights?.to(accumulator).contiguous();
        FusedRoutingCudaKernels.GatherReduce(work, rowMap.contiguous(), w, output);
        return output.to(rows.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Unpermute backward: the <c>[rowCount, H]</c> gradient of the rows (<c>w · grad[t]</c> at each copy's row, in
    /// <paramref name="rowsDtype"/>) and, when <paramref name="weightsGradDtype"/> is given, the <c>[T, E]</c>
    /// gradient of the weights in that dtype (zero where a token has no copy), which needs the forward's
    /// <paramref name="rows"/>.
    /// </summary>
    public static (Tensor RowsGrad, Tensor? WeightsGrad) GatherReduceBackward(
        Tensor grad, Tensor rowMap, long rowCount, ScalarType rowsDtype, Tensor? rows, Tensor? weights,
        ScalarType accumulator, ScalarType? weightsGradDtype)
    {
        using var scope = NewDisposeScope();
        var workDtype = accumulator == ScalarType.Float64 ? ScalarType.Float64 : rowsDtype;
        var g = grad.to(workDtype).contiguous();   // an upstream gradient is often an expanded (stride-0) view
        var x = weightsGradDtype is null ? null : rows!.to(workDtype).contiguous();
        var w = weights?.to(accumulator).contiguous();
        // Every row of a map built by Permute has an owner, so every row gets written; zeros guard a partial map
        // (as on the CPU path).
        var rowsGrad = zeros(new[] { rowCount, grad.shape[1] }, workDtype, grad.device);
        var weightsGrad = weightsGradDtype is null ? null : empty(rowMap.shape, accumulator, grad.device);
        FusedRoutingCudaKernels.ScatterScaledWithDot(g, x, rowMap.contiguous(), w, rowsGrad, weightsGrad);
        return (rowsGrad.to(rowsDtype).MoveToOuterDisposeScope(),
                weightsGradDtype is ScalarType d ? weightsGrad!.to(d).MoveToOuterDisposeScope() : null);
    }

    /// <summary>Permute backward for the probs: <c>[T, E]</c> gradient gathered from the permuted probs' gradient.</summary>
    public static Tensor GatherProbsGrad(Tensor permutedProbsGrad, Tensor rowMap)
    {
        using var scope = NewDisposeScope();
        var probsGrad = empty(rowMap.shape, permutedProbsGrad.dtype, permutedProbsGrad.device);
        FusedRoutingCudaKernels.GatherOrZero(permutedProbsGrad.contiguous(), rowMap.contiguous(), probsGrad);
        return probsGrad.MoveToOuterDisposeScope();
    }
}
