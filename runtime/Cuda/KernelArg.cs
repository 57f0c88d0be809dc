using System;
using TorchSharp;

namespace MoeOpGen.Cuda;

/// <summary>
/// One kernel argument, converted implicitly from what the kernel's parameter is:
/// <list type="table">
/// <item><term><see cref="torch.Tensor"/></term><description>its device data pointer (storage offset included);
/// a null tensor passes a null pointer. The tensor must be on the kernel's device.</description></item>
/// <item><term><see cref="long"/>, <see cref="ulong"/></term><description>8 bytes (<c>long long</c>, <c>unsigned long long</c>).</description></item>
/// <item><term><see cref="int"/>, <see cref="uint"/></term><description>4 bytes (<c>int</c>, <c>unsigned</c>).</description></item>
/// <item><term><see cref="float"/></term><description>4 bytes.</description></item>
/// <item><term><see cref="bool"/></term><description>an <c>int</c>, 0 or 1.</description></item>
/// <item><term><see cref="float"/>[]</term><description>passed by value as a C struct of floats, e.g.
/// <c>struct scalars { float v[N]; }</c>; an empty array passes one dummy float (C has no empty arrays).</description></item>
/// <item><term><see cref="IntPtr"/></term><description>a raw device pointer.</description></item>
/// </list>
/// The size must match the kernel's parameter exactly: the driver copies as many bytes as the kernel declares.
/// </summary>
public readonly struct KernelArg
{
    private readonly object? _reference;   // the Tensor or float[]; null for plain values
    private readonly long _bits;            // the value, little-endian in the low bytes
    internal readonly KernelArgKind Kind;

    private KernelArg(KernelArgKind kind, long bits, object? reference)
    {
        Kind = kind;
        _bits = bits;
        _reference = reference;
    }

    /// <summary>A tensor's data pointer; null passes a null pointer.</summary>
    public static implicit operator KernelArg(torch.Tensor? tensor) =>
        tensor is null ? new(KernelArgKind.Pointer, 0, null) : new(KernelArgKind.Tensor, 0, tensor);

    /// <summary>A 64-bit integer.</summary>
    public static implicit operator KernelArg(long value) => new(KernelArgKind.Int64, value, null);

    /// <summary>An unsigned 64-bit integer.</summary>
    public static implicit operator KernelArg(ulong value) => new(KernelArgKind.Int64, unchecked((long)value), null);

    /// <summary>A 32-bit integer.</summary>
    public static implicit operator KernelArg(int value) => new(KernelArgKind.Int32, value, null);

    /// <summary>An unsigned 32-bit integer.</summary>
    public static implicit operator KernelArg(uint value) => new(KernelArgKind.Int32, value, null);

    /// <summary>A 32-bit float.</summary>
    public static implicit operator KernelArg(float value) =>
        new(KernelArgKind.Float32, BitConverter.SingleToInt32Bits(value), null);

    /// <summary>A flag, as an <c>int</c> 0 or 1.</summary>
    public static implicit operator KernelArg(bool value) => new(KernelArgKind.Int32, value ? 1 : 0, null);

    /// <summary>A struct of floats, by value.</summary>
    public static implicit operator KernelArg(float[] values) =>
        new(KernelArgKind.Floats, 0, values ?? throw new ArgumentNullException(nameof(values)));

    /// <summary>A raw pointer.</summary>
    public static implicit operator KernelArg(IntPtr pointer) => new(KernelArgKind.Pointer, pointer, null);

    internal long Bits => _bits;

    internal torch.Tensor? Tensor => _reference as torch.Tensor;

    internal float[]? Floats => _reference as float[];

    /// <summary>Number of floats a <see cref="KernelArgKind.Floats"/> argument occupies (at least one).</summary>
    internal int FloatCount => Kind == KernelArgKind.Floats ? Math.Max(1, Floats!.Length) : 0;

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        KernelArgKind.Tensor => $"tensor on {Tensor!.device}",
        KernelArgKind.Floats => $"float[{Floats!.Length}]",
        KernelArgKind.Float32 => BitConverter.Int32BitsToSingle((int)_bits).ToString(System.Globalization.CultureInfo.InvariantCulture),
        KernelArgKind.Pointer => $"0x{_bits:x}",
        _ => _bits.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>How a <see cref="KernelArg"/> is laid out for the driver.</summary>
internal enum KernelArgKind : byte
{
    Pointer,
    Tensor,
    Int64,
    Int32,
    Float32,
    Floats,
}
