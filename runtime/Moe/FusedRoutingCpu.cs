using MoeOpGen.Engines;
using System;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Tensor-level entry points of the fused CPU routing path: allocate outputs, pick the kernel instantiation for the
/// dtype, and run the loops of <see cref="FusedRoutingCpuKernels"/>.
/// </summary>
internal static class FusedRoutingCpu
{
    /// <summary>Permute forward. Returns the <c>[rowCount, H]</c> permuted tokens and, with probs, the permuted probs.</summary>
    public static (Tensor Permuted, Tensor? PermutedProbs) Permute(Tensor tokens, Tensor rowMap, long rowCount, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        var permuted = empty(new[] { rowCount, tokens.shape[1] }, tokens.dtype);
        var permutedProbs = probs is null ? null : empty(new[] { rowCount }, probs.dtype);
        FusedRoutingCpuKernels.CopyToRows(tokens.contiguous(), rowMap, probs?.contiguous(), permuted, permutedProbs);
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
        var output = empty(new[] { rowMap.shape[0], rows.shape[1] }, work.dtype);
        var w = weights?.to(accumulator).contiguous();
        switch (work.dtype)
        {
            case ScalarType.Float32: FusedRoutingCpuKernels.GatherReduce<float, float, Fp32Element>(work, rowMap, w, output); break;
            case ScalarType.Float64: FusedRoutingCpuKernels.GatherReduce<double, double, Fp64Element>(work, rowMap, w, output); break;
            case ScalarType.Float16: FusedRoutingCpuKernels.GatherReduce<Half, float, Fp16Element>(work, rowMap, w, output); break;
            case ScalarType.BFloat16: FusedRoutingCpuKernels.GatherReduce<ushort, float, Bf16Element>(work, rowMap, w, output); break;
            default: throw UnsupportedDtype(work.dtype);
        }
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
        var g = grad.to(workDtype).contiguous();
        var x = weightsGradDtype is null ? null : rows!.to(workDtype).contiguous();
        var w = weights?.to(accumulator).contiguous();
        // Every row of a map built by Permute has an owner, so every row gets written; zeros guard a partial map.
        var rowsGrad = zeros(new[] { rowCount, grad.shape[1] }, workDtype);
        var weightsGrad = weightsGradDtype is null ? null : empty(rowMap.shape, accumulator);
        switch (workDtype)
        {
            case ScalarType.Float32: FusedRoutingCpuKernels.ScatterScaledWithDot<float, float, Fp32Element>(g, x, rowMap, w, rowsGrad, weightsGrad); break;
            case ScalarType.Float64: FusedRoutingCpuKernels.ScatterScaledWithDot<double, double, Fp64Element>(g, x, rowMap, w, rowsGrad, weightsGrad); break;
            case ScalarType.Float16: FusedRoutingCpuKernels.ScatterScaledWithDot<Half, float, Fp16Element>(g, x, rowMap, w, rowsGrad, weightsGrad); break;
            case ScalarType.BFloat16: FusedRoutingCpuKernels.ScatterScaledWithDot<ushort, float, Bf16Element>(g, x, rowMap, w, rowsGrad, weightsGrad); break;
            default: throw UnsupportedDtype(workDtype);
        }
        return (rowsGrad.to(rowsDtype).MoveToOuterDisposeScope(),
                weightsGradDtype is ScalarType d ? weightsGrad!.to(d).MoveToOuterDisposeScope() : null);
    }

    /// <summary>Permute backward for the probs: <c>[T, E]</c> gradient gathered from the permuted probs' gradient.</summary>
    public static Tensor GatherProbsGrad(Tensor permutedProbsGrad, Tensor rowMap)
    {
        using var scope = NewDisposeScope();
        var probsGrad = empty(rowMap.shape, permutedProbsGrad.dtype);
        FusedRoutingCpuKernels.GatherOrZero(permutedProbsGrad.contiguous(), rowMap, probsGrad);
        return probsGrad.MoveToOuterDisposeScope();
    }

    private static InvalidOperationException UnsupportedDtype(ScalarType dtype)
        => new($"Internal error: the fused CPU routing kernels got a {dtype} tensor (checked by TokenPermutation).");
}
