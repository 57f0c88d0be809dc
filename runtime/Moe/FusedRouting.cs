using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The fused routing operations on either device: CUDA tensors go to <see cref="FusedRoutingCuda"/> (MoeOpGen's
/// kernels), CPU tensors to <see cref="FusedRoutingCpu"/> (parallel loops). Both follow the row map
/// (<see cref="FusedRowMap"/>) and give the same results; the autograd functions call only this class.
/// </summary>
internal static class FusedRouting
{
    /// <inheritdoc cref="FusedRoutingCpu.Permute"/>
    public static (Tensor Permuted, Tensor? PermutedProbs) Permute(Tensor tokens, Tensor rowMap, long rowCount, Tensor? probs)
        => tokens.is_cuda ? FusedRoutingCuda.Permute(tokens, rowMap, rowCount, probs) : FusedRoutingCpu.Permute(tokens, rowMap, rowCount, probs);

    /// <inheritdoc cref="FusedRoutingCpu.GatherReduce"/>
    public static Tensor GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, ScalarType accumulator)
        => rows.is_cuda ? FusedRoutingCuda.GatherReduce(rows, rowMap, weights, accumulator) : FusedRoutingCpu.GatherReduce(rows, rowMap, weights, accumulator);

    /// <inheritdoc cref="FusedRoutingCpu.GatherReduceBackward"/>
    public static (Tensor RowsGrad, Tensor? WeightsGrad) GatherReduceBackward(
        Tensor grad, Tensor rowMap, long rowCount, ScalarType rowsDtype, Tensor? rows, Tensor? weights,
        ScalarType accumulator, ScalarType? weightsGradDtype)
        => grad.is_cuda
            ? FusedRoutingCuda.GatherReduceBackward(grad, rowMap, rowCount, rowsDtype, rows, weights, accumulator, weightsGradDtype)
            : FusedRoutingCpu.GatherReduceBackward(grad, rowMap, rowCount, rowsDtype, rows, weights, accumulator, weightsGradDtype);

    /// <inheritdoc cref="FusedRoutingCpu.GatherProbsGrad"/>
    public static Tensor GatherProbsGrad(Tensor permutedProbsGrad, Tensor rowMap)
        => permutedProbsGrad.is_cuda ? FusedRoutingCuda.GatherProbsGrad(permutedProbsGrad, rowMap) : FusedRoutingCpu.GatherProbsGrad(permutedProbsGrad, rowMap);
}
