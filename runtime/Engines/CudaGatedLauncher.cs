using System;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// Launches a gated operator's generated kernels on CUDA tensors (legacy default stream, the one TorchSharp
/// uses, so no synchronisation is needed). Chooses the kernel of the variant and dtype, the 16-byte vector path
/// when every tensor allows it, and the launch shape (<see cref="CudaLaunchShapes"/>): one thread per pack in
/// forward, one row per block in backward (row groups × column slices with a bias).
/// </summary>
internal static class CudaGatedLauncher<TM> where TM : struct, IGatedMaths
{
    public static void Forward(TM maths, GatedCall call, Tensor input, Tensor? weights, Tensor? bias, Tensor output, Tensor? x8)
    {
        if (call.Rows == 0) return;
        int device = input.device_index;
        long v = 16 / input.element_size();
        bool vec = call.Hidden % v == 0 && Aligned(input, bias, output, x8);
        string name = KernelName(maths, "fwd", input.dtype, weights, bias, call, x8 is not null) + PathSuffix(bias, vec, call);
        var kernel = CudaKernels.GetFunction(maths.Cuda, name, device);
        kernel.Launch(CudaLaunchShapes.GatedForwardGrid(call.Rows, (call.Hidden + v - 1) / v), CudaLaunchShapes.PackBlock, 0,
                      input, weights, bias, output, x8, call.Rows, call.Hidden, call.Interleaved, vec, call.Clamp ?? 0f, maths.ScalarValues);
    }

    /// <summary>Fills <paramref name="inputGrad"/> and <paramref name="weightsGrad"/> (fp32 [rows]); returns the bias gradient in the bias's dtype and layout.</summary>
    public static Tensor? Backward(TM maths, GatedCall call, ScalarType dtype, Tensor grad, Tensor? input, Tensor? x8, Tensor? weights, Tensor? bias,
                                   Tensor inputGrad, Tensor? weightsGrad)
    {
        if (call.Rows == 0) return bias is null ? null : zeros([2 * call.Hidden], dtype, grad.device);
        int device = grad.device_index;
        long v = 16 / inputGrad.element_size();
        bool vec = call.Hidden % v == 0 && Aligned(grad, input, x8, bias, inputGrad);
        long packsPerRow = (call.Hidden + v - 1) / v;
        string name = KernelName(maths, "bwd", dtype, weights, bias, call, x8 is not null) + PathSuffix(bias, vec, call);
        var kernel = CudaKernels.GetFunction(maths.Cuda, name, device);
        if (bias is null)
        {
            // A block per row; the kernel's blocks stride over the rows beyond the grid's limit.
            uint block = CudaLaunchShapes.GatedBackwardBlock(packsPerRow, kernel.MaxThreadsPerBlock);
            kernel.Launch((uint)Math.Min(call.Rows, int.MaxValue), block, 0, grad, input, x8, weights, inputGrad, weightsGrad,
                          call.Rows, call.Hidden, call.Interleaved, vec, call.Clamp ?? 0f, maths.ScalarValues);
            return null;
        }

        // Row groups × column slices; each group leaves a [2h] partial of the bias gradient and, with weights, each
        // (slice, warp) a partial dot product per row; two small kernels add them in a fixed order.
        uint threads = CudaLaunchShapes.BiasBackwardBlock;
        var (groups, slices, rowsPerGroup) = CudaLaunchShapes.BiasBackwardGrid(call.Rows, packsPerRow, kernel.OneWaveGrid(threads, 0, long.MaxValue));
        int weightParts = checked((int)(slices * (threads / 32)));
        var biasPartial = empty([groups, 2 * call.Hidden], ScalarType.Float32, grad.device);
        var weightsPartial = weights is null ? null : empty([weightParts, call.Rows], ScalarType.Float32, grad.device);
        kernel.Launch((groups, slices), threads, 0, grad, input, x8, weights, bias, inputGrad, weightsPartial, biasPartial,
                      call.Rows, call.Hidden, rowsPerGroup, call.Interleaved, vec, call.Clamp ?? 0f, maths.ScalarValues);
        if (weightsPartial is not null)
        {
            var reduceWeights = CudaKernels.GetFunction(maths.Cuda, $"{maths.KernelPrefix}_reduce_weights", device);
            reduceWeights.Launch(CudaLaunchShapes.ReduceWeightsGrid(call.Rows), CudaLaunchShapes.ReduceWeightsBlock, 0,
                                 weightsPartial, weightsGrad, call.Rows, weightParts);
        }
        var dbias = empty([2 * call.Hidden], dtype, grad.device);
        var reduceBias = CudaKernels.GetFunction(maths.Cuda, $"{maths.KernelPrefix}_reduce_bias_{Suffix(dtype)}", device);
        reduceBias.Launch(CudaLaunchShapes.ReduceBiasGrid(call.Hidden), CudaLaunchShapes.ReduceBiasBlock, 0, biasPartial, dbias, (long)groups, call.Hidden, call.Interleaved);
        return dbias;
    }

    /// <summary>e.g. <c>swiglu_bwd_bf16_wbc</c>: letters for weights, bias, clamp, FP8 store, in that order.</summary>
    internal static string KernelName(TM maths, string direction, ScalarType dtype, Tensor? weights, Tensor? bias, GatedCall call, bool fp8)
    {
        string letters = (weights is null ? "" : "w") + (bias is null ? "" : "b") + (call.Clamp.HasValue ? "c" : "") + (fp8 ? "f" : "");
        return $"{maths.KernelPrefix}_{direction}_{Suffix(dtype)}" + (letters.Length == 0 ? "" : "_" + letters);
    }

    /// <summary>"_v16" for the entry point compiled for the 16-byte halves path alone, which kernels with a bias have
    /// (forward and backward): the run-time layout costs them registers, and so occupancy and bandwidth.</summary>
    private static string PathSuffix(Tensor? bias, bool vec, GatedCall call) => bias is not null && vec && !call.Interleaved ? "_v16" : "";

    private static string Suffix(ScalarType dtype) => CudaGatedLauncherNames.Suffix(dtype);

    private static bool Aligned(params Tensor?[] tensors)
    {
        foreach (var t in tensors) if (t is not null && !TensorChecks.Is16ByteAligned(t)) return false;
        return true;
    }
}
