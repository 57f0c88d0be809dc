using System;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>Launches a unary operator's generated kernels: one thread per 16-byte pack of the flat tensor.</summary>
internal static class CudaUnaryLauncher<TM> where TM : struct, IUnaryMaths
{
    public static void Forward(TM maths, Tensor input, Tensor output)
        => Launch(maths, "fwd", input, [input, output, input.numel(), Vec(input, output), maths.ScalarValues]);

    public static void Backward(TM maths, Tensor grad, Tensor input, Tensor inputGrad)
        => Launch(maths, "bwd", input, [grad, input, inputGrad, input.numel(), Vec(grad, input, inputGrad), maths.ScalarValues]);

    private static void Launch(TM maths, string direction, Tensor input, KernelArg[] args)
    {
        long count = input.numel();
        if (count == 0) return;
        int device = input.device_index;
        long packs = (count + 16 / input.element_size() - 1) / (16 / input.element_size());
        string name = $"{maths.KernelPrefix}_{direction}_{CudaGatedLauncherNames.Suffix(input.dtype)}";
        var kernel = CudaKernels.GetFunction(maths.Cuda, name, device);
        kernel.Launch(CudaLaunchShapes.UnaryGrid(packs), CudaLaunchShapes.PackBlock, 0, args);
    }

    private static bool Vec(params Tensor[] tensors)
    {
        foreach (var t in tensors) if (!TensorChecks.Is16ByteAligned(t)) return false;
        return true;
    }
}

/// <summary>The dtype suffix of kernel names (f32, f16, bf16).</summary>
internal static class CudaGatedLauncherNames
{
    public static string Suffix(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "f32",
        ScalarType.Float16 => "f16",
        ScalarType.BFloat16 => "bf16",
        _ => throw new ArgumentException($"The CUDA kernels take float32, float16 or bfloat16 tensors, not {dtype}; use Engine.Composite for float64 on CUDA.", "input"),
    };
}
