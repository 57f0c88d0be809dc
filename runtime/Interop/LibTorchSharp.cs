using System;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeOpGen.Interop;

/// <summary>
/// The one native entry of TorchSharp's shim we need and TorchSharp does not expose: a tensor's data pointer
/// (<c>tensor-&gt;data_ptr()</c>, storage offset included; a device pointer for CUDA tensors). TorchSharp 0.107
/// has no public <c>Tensor.data_ptr()</c> (torchsharp-notes §2).
/// </summary>
internal static partial class LibTorchSharp
{
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The address of the tensor's first element.</summary>
    public static IntPtr DataPointer(torch.Tensor tensor) => THSTensor_data(tensor.Handle);
}
