using System;
using System.Numerics;

namespace MoeOpGen.Moe;

/// <summary>
/// How a fused CPU kernel reads an element of a floating-point tensor into its accumulator type and writes it back.
/// Static abstract members let the JIT specialise each kernel per element type, with no virtual call per element.
/// </summary>
/// <typeparam name="TElement">The element as stored in memory.</typeparam>
/// <typeparam name="TAccumulator">fp32 for fp32/fp16/bf16 tensors, fp64 for fp64 tensors.</typeparam>
internal interface IElementCodec<TElement, TAccumulator>
    where TElement : unmanaged
    where TAccumulator : unmanaged, IFloatingPointIeee754<TAccumulator>
{
    static abstract TAccumulator Load(TElement value);

    /// <summary>Rounds to nearest, ties to even (what a CUDA kernel's <c>cvt.rn</c> does).</summary>
    static abstract TElement Store(TAccumulator value);
}

internal readonly struct Float32Codec : IElementCodec<float, float>
{
    public static float Load(float value) => value;
    public static float Store(float value) => value;
}

internal readonly struct Float64Codec : IElementCodec<double, double>
{
    public static double Load(double value) => value;
    public static double Store(double value) => value;
}

internal readonly struct Float16Codec : IElementCodec<Half, float>
{
    public static float Load(Half value) => (float)value;
    public static Half Store(float value) => (Half)value;   // .NET rounds to nearest even
}

/// <summary>bf16 kept as its raw 16 bits: .NET 8 has no bfloat16 type.</summary>
internal readonly struct BFloat16Codec : IElementCodec<ushort, float>
{
    public static float Load(ushort value) => BitConverter.Int32BitsToSingle(value << 16);

    public static ushort Store(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fff_ffffu) > 0x7f80_0000u)
            return (ushort)((bits >> 16) | 0x40u);                 // NaN stays NaN (quiet), sign kept
        bits += 0x7fffu + ((bits >> 16) & 1u);                     // round to nearest, ties to even
        return (ushort)(bits >> 16);
    }
}
