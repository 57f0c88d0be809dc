using System;
using MoeOpGen.Cuda.Interop;
using TorchSharp;

namespace MoeOpGen.Cuda;

/// <summary>
/// Argument checks engines run before launching a kernel on a tensor. Each throws
/// <see cref="ArgumentException"/> (or <see cref="ArgumentNullException"/>) whose parameter name and message
/// name the offending argument.
/// </summary>
public static class TensorChecks
{
    /// <summary>Requires <paramref name="tensor"/> to be on a CUDA device.</summary>
    public static void RequireCuda(torch.Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.device_type != DeviceType.CUDA)
            throw new ArgumentException($"{name} must be a CUDA tensor, but it is on {tensor.device}.", name);
    }

    /// <summary>Requires <paramref name="tensor"/> to be on the CPU or a CUDA device, the devices with kernels: any
    /// other (meta, MPS, …) has no data the fused kernels could read.</summary>
    public static void RequireCpuOrCuda(torch.Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.device_type is not (DeviceType.CPU or DeviceType.CUDA))
            throw new ArgumentException($"{name} is on {tensor.device}; MoeOpGen's operators run on the CPU or a CUDA device.", name);
    }

    /// <summary>Requires <paramref name="tensor"/> to be on the same device as <paramref name="reference"/>.</summary>
    public static void RequireSameDevice(torch.Tensor tensor, torch.Tensor reference, string name, string referenceName)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        ArgumentNullException.ThrowIfNull(reference, referenceName);
        if (tensor.device_type != reference.device_type || tensor.device_index != reference.device_index)
            throw new ArgumentException(
                $"{name} is on {tensor.device}, but {referenceName} is on {reference.device}; they must be on the same device.", name);
    }

    /// <summary>Requires fp32, fp64, fp16 or bf16 (the operators' storage types).</summary>
    public static void RequireFloating(torch.Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.dtype is not (torch.ScalarType.Float32 or torch.ScalarType.Float64 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16))
            throw new ArgumentException($"{name} must be a float32, float64, float16 or bfloat16 tensor, but it is {tensor.dtype}.", name);
    }

    /// <summary>Requires <paramref name="tensor"/> to be contiguous in row-major order.</summary>
    public static void RequireContiguous(torch.Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!tensor.is_contiguous())
            throw new ArgumentException(
                $"{name} must be contiguous (shape [{string.Join(", ", tensor.shape)}], strides [{string.Join(", ", tensor.stride())}]); "
                + "call .contiguous() first.", name);
    }

    /// <summary>Requires <paramref name="tensor"/> to have element type <paramref name="dtype"/>.</summary>
    public static void RequireDtype(torch.Tensor tensor, torch.ScalarType dtype, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.dtype != dtype)
            throw new ArgumentException($"{name} must have dtype {dtype}, but it has {tensor.dtype}.", name);
    }

    /// <summary>Requires <paramref name="tensor"/> to have exactly the shape <paramref name="shape"/>.</summary>
    public static void RequireShape(torch.Tensor tensor, ReadOnlySpan<long> shape, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!tensor.shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException(
                $"{name} must have shape [{string.Join(", ", shape.ToArray())}], but it has [{string.Join(", ", tensor.shape)}].", name);
    }

    /// <summary>Requires the first element of <paramref name="tensor"/> to be aligned to <paramref name="bytes"/>
    /// (a power of two), e.g. 16 for kernels that load 16-byte vectors.</summary>
    public static void RequireAligned(torch.Tensor tensor, int bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!IsAligned(tensor, bytes))
            throw new ArgumentException(
                $"{name} must start at a {bytes}-byte aligned address, but its data starts at 0x{DataPointer(tensor):x} "
                + $"(storage offset {tensor.storage_offset()} elements).", name);
    }

    /// <summary>Whether the first element of <paramref name="tensor"/> is aligned to <paramref name="bytes"/> (a power of two).</summary>
    public static bool IsAligned(torch.Tensor tensor, int bytes)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (bytes <= 0 || (bytes & (bytes - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Alignment must be a positive power of two.");
        return (DataPointer(tensor) & (bytes - 1)) == 0;
    }

    /// <summary>Whether <paramref name="tensor"/>'s data can be read as 16-byte vectors from its first element.</summary>
    public static bool Is16ByteAligned(torch.Tensor tensor) => IsAligned(tensor, 16);

    /// <summary>The address of the first element (device memory for a CUDA tensor); offset views included.</summary>
    internal static long DataPointer(torch.Tensor tensor) => LibTorchSharpNative.DataPointer(tensor);
}
