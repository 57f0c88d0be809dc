using System;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoeOpGen.Cuda.Interop;

/// <summary>
/// The one TorchSharp native export MoeOpGen needs that TorchSharp does not expose: the data pointer of a tensor
/// (torchsharp-notes §2: <c>THSTensor_data</c> returns <c>tensor-&gt;data_ptr()</c>, storage offset included,
/// a device pointer for CUDA tensors).
/// </summary>
internal static partial class LibTorchSharpNative
{
    // Touching torch runs TorchSharp's native loader first, so "LibTorchSharp" binds to the library it loaded.
    static LibTorchSharpNative() => _ = torch.CPU;

    [LibraryImport("LibTorchSharp")] public static partial IntPtr THSTensor_data(IntPtr tensorHandle);

    /// <summary>The address of the first element of <paramref name="tensor"/> (null for null).</summary>
    public static IntPtr DataPointer(torch.Tensor? tensor) =>
        tensor is null ? IntPtr.Zero : THSTensor_data(tensor.Handle);
}
