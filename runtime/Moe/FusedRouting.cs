using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The fused routing operations on either device, which the autograd functions call: each allocates its outputs on
/// the operands' device, brings the operands to the layout and dtypes the kernels take, then runs the device's
/// kernel: <see cref="FusedRoutingCudaKernels"/> (MoeOpGen's NVRTC kernels) for CUDA tensors,
/// <see cref="FusedRoutingCpuKernels"/> (parallel loops) for CPU tensors. Both follow the row map
/// (<see cref="FusedRowMap"/>) and give the same results: the permuted tokens, the sums and the rows' gradient are
/// bit-identical; the probs' gradient is a dot product reduced in another order on each device, so it agrees to
/// rounding.
/// </summary>
internal static class FusedRouting
{
    /// <summary>Permute forward. Returns the <c>[rowCount, H]</c> permuted tokens and, with probs, the permuted probs.</summary>
    public static (Tensor Permuted, Tensor? PermutedProbs) Permute(Tensor tokens, Tensor rowMap, long rowCount, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        // Every row of a map built by Permute has an owner (FusedRowMap), so the kernel writes every row.
        var permuted = empty(new[] { rowCount, tokens.shape[1] }, tokens.dtype, tokens.device);
        var permutedProbs = probs is null ? null : empty(new[] { rowCount }, probs.dtype, probs.device);
        var (x, map, p) = (tokens.contiguous(), rowMap.contiguous(), probs?.contiguous());
        if (tokens.is_cuda) FusedRoutingCudaKernels.CopyToRows(x, map, p, permuted, permutedProbs);
        else FusedRoutingCpuKernels.CopyToRows(x, map, p, permuted, permutedProbs);
        return (permuted.MoveToOuterDisposeScope(), permutedProbs?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Gather-reduce (unpermute forward, permute backward): <c>[T, H]</c> sums of each token's rows (weighted by
    /// <paramref name="weights"/> when given), accumulated in <paramref name="accumulator"/> and returned in the
    /// dtype of <paramref name="rows"/>.
    /// </summary>
    public static Tensor GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, ScalarType accumulator)
    {
        using var scope = NewDisposeScope();
        var work = RoutingPrecision.WorkingRows(rows, accumulator);
        var output = empty(new[] { rowMap.shape[0], rows.shape[1] }, work.dtype, rows.device);   // every token row is written
        var (map, w) = (rowMap.contiguous(), weights?.to(accumulator).contiguous());
        if (rows.is_cuda) FusedRoutingCudaKernels.GatherReduce(work, map, w, output);
        else FusedRoutingCpuKernels.GatherReduce(work, map, w, output);
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
        var (map, w) = (rowMap.contiguous(), weights?.to(accumulator).contiguous());
        // Every row of a map built by Permute has an owner, so every row gets written; zeros guard a partial map.
        var rowsGrad = zeros(new[] { rowCount, grad.shape[1] }, workDtype, grad.device);
        var weightsGrad = weightsGradDtype is null ? null : empty(rowMap.shape, accumulator, grad.device);
        if (grad.is_cuda) FusedRoutingCudaKernels.ScatterScaledWithDot(g, x, map, w, rowsGrad, weightsGrad);
        else FusedRoutingCpuKernels.ScatterScaledWithDot(g, x, map, w, rowsGrad, weightsGrad);
        return (rowsGrad.to(rowsDtype).MoveToOuterDisposeScope(),
                weightsGradDtype is ScalarType d ? weightsGrad!.to(d).MoveToOuterDisposeScope() : null);
    }

    /// <summary>Permute backward for the probs: <c>[T, E]</c> gradient gathered from the permuted probs' gradient.</summary>
    public static Tensor GatherProbsGrad(Tensor permutedProbsGrad, Tensor rowMap)
    {
        using var scope = NewDisposeScope();
        var probsGrad = empty(rowMap.shape, permutedProbsGrad.dtype, permutedProbsGrad.device);
        var (source, map) = (permutedProbsGrad.contiguous(), rowMap.contiguous());
        if (permutedProbsGrad.is_cuda) FusedRoutingCudaKernels.GatherOrZero(source, map, probsGrad);
        else FusedRoutingCpuKernels.GatherOrZero(source, map, probsGrad);
        return probsGrad.MoveToOuterDisposeScope();
    }
}
