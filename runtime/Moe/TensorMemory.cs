using System;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>Raw access to the memory of a contiguous CPU tensor, for the fused CPU routing kernels.</summary>
/// <remarks>
/// TorchSharp 0.107 has no public <c>data_ptr()</c>: <c>Tensor.data&lt;T&gt;()</c> refuses bf16/fp16 and
/// <c>storage&lt;T&gt;()</c> converts the tensor. LibTorchSharp exports <c>THSTensor_data</c>, which returns
/// <c>tensor.data_ptr()</c> (storage offset included), so the kernels read and write the tensor in place.
/// </remarks>
internal static class TensorMemory
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr tensorHandle);

    /// <summary>Address of the first element. The tensor must be a contiguous CPU tensor (checked).</summary>
    public static nint Address(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new InvalidOperationException("Internal error: fused CPU routing kernels need contiguous CPU tensors.");
        // An empty tensor may have no storage; no kernel dereferences it.
        return tensor.numel() == 0 ? 0 : THSTensor_data(tensor.Handle);
    }
}
