using System;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>Raw access to the memory of a contiguous CPU tensor, for the fused CPU routing kernels.</summary>
/// <remarks>
/// The pointer comes from the runtime's one <c>THSTensor_data</c> import (<see cref="Cuda.Interop.LibTorchSharpNative"/>);
/// this adds the check that the routing kernels' tensors are contiguous CPU tensors.
/// </remarks>
internal static class TensorMemory
{
    /// <summary>Address of the first element. The tensor must be a contiguous CPU tensor (checked).</summary>
    public static nint Address(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new InvalidOperationException("Internal error: fused CPU routing kernels need contiguous CPU tensors.");
        // An empty tensor may have no storage; no kernel dereferences it.
        return tensor.numel() == 0 ? 0 : Cuda.Interop.LibTorchSharpNative.DataPointer(tensor);
    }
}
