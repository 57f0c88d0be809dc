using System;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// Launches a gated operator's generated kernels on CUDA tensors (legacy default stream, the one TorchSharp
/// uses, so no synchronisation is needed). Chooses the kernel of the variant and dtype, the 16-byte vector path
/// when every tensor allows it, and the launch shape (<see cref="CudaLaunchShapes"/>): one thread per pack in
/// forward, one row per block in backward.
/// </summary>
internal static class CudaGatedLauncher<TM> where TM : struct, IGatedMaths
{
    public static void Forward(TM maths, GatedCall call, Tensor input, Tensor? weights, Tensor? bias, Tensor output, Tensor? x8)
    {
        if (call.Rows == 0) return;
        int device = input.device_index;
        long v = 16 / input.element_size();
        bool vec = call.Hidden % v == 0 && Aligned(input, bias, output, x8);
        var kernel = CudaKernels.GetFunction(maths.Cuda, KernelName(maths, "fwd", input.dtype, weights, bias, call, x8 is not null), device);
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

        // The bias-gradient accumulators: [2 halves × V elements of a pack][packs of a row] floats.
        uint shared = bias is null ? 0u : (uint)(2 * v * packsPerRow * sizeof(float));
        var kernel = CudaKernels.GetFunction(maths.Cuda, KernelName(maths, "bwd", dtype, weights, bias, call, x8 is not null), device);
        uint block = CudaLaunchShapes.GatedBackwardBlock(packsPerRow, kernel.MaxThreadsPerBlock, bias is not null);
        // Without bias a block per row; with bias one wave of resident blocks, since each block owns a [2h] row of
        // bias partial sums.
        uint grid = bias is null ? (uint)Math.Min(call.Rows, int.MaxValue) : kernel.OneWaveGrid(block, shared, call.Rows);
        var partial = bias is null ? null : empty([grid, 2 * call.Hidden], ScalarType.Float32, grad.device);
        kernel.Launch(grid, block, shared, grad, input, x8, weights, bias, inputGrad, weightsGrad, partial, call.Rows, call.Hidden, call.Interleaved, vec, call.Clamp ?? 0f, maths.ScalarValues);
        if (bias is null) return null;

        var dbias = empty([2 * call.Hidden], dtype, grad.device);
        var reduce = CudaKernels.GetFunction(maths.Cuda, $"{maths.KernelPrefix}_reduce_bias_{Suffix(dtype)}", device);
        reduce.Launch(CudaLaunchShapes.ReduceBiasGrid(call.Hidden), CudaLaunchShapes.ReduceBiasBlock, 0, partial, dbias, (long)grid, call.Hidden, call.Interleaved);
        return dbias;
    }

    /// <summary>e.g. <c>swiglu_bwd_bf16_wbc</c>: letters for weights, bias, clamp, FP8 store, in that order.</summary>
    internal static string KernelName(TM maths, string direction, ScalarType dtype, Tensor? weights, Tensor? bias, GatedCall call, bool fp8)
    {
        string letters = (weights is null ? "" : "w") + (bias is null ? "" : "b") + (call.Clamp.HasValue ? "c" : "") + (fp8 ? "f" : "");
        return $"{maths.KernelPrefix}_{direction}_{Suffix(dtype)}" + (letters.Length == 0 ? "" : "_" + letters);
    }

    private static string Suffix(ScalarType dtype) => CudaGatedLauncherNames.Suffix(dtype);

    private static bool Aligned(params Tensor?[] tensors)
    {
        foreach (var t in tensors) if (t is not null && !TensorChecks.Is16ByteAligned(t)) return false;
        return true;
    }
}
