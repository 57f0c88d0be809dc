using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace MoeOpGen.Engines;

/// <summary>How a storage type is read into and written from its arithmetic type (fp32, or fp64 for fp64).</summary>
internal interface IElement<TStorage, TReal>
    where TStorage : unmanaged
    where TReal : unmanaged, IFloatingPointIeee754<TReal>
{
    static abstract TReal Load(TStorage value);
    static abstract TStorage Store(TReal value);
}

internal readonly struct Fp32Element : IElement<float, float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Store(float value) => value;
}

internal readonly struct Fp64Element : IElement<double, double>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Load(double value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Store(double value) => value;
}

internal readonly struct Fp16Element : IElement<Half, float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(Half value) => (float)value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Half Store(float value) => (Half)value;
}

/// <summary>bfloat16 as its raw 16 bits (net8.0 has no BFloat16 type): the high half of an fp32.</summary>
internal readonly struct Bf16Element : IElement<ushort, float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    /// <summary>Round to nearest even; NaN stays a quiet NaN (the CUDA preamble's rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Store(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }
}

/// <summary>Binds the arithmetic type to the maths' fp32 or fp64 members.</summary>
internal interface IArithmetic<TReal> where TReal : unmanaged, IFloatingPointIeee754<TReal>
{
    static abstract TReal Forward<TM>(in TM m, TReal gate, TReal linear) where TM : struct, IGatedMaths;
    static abstract TReal ValueAndGradients<TM>(in TM m, TReal gate, TReal linear, TReal grad, out TReal dGate, out TReal dLinear) where TM : struct, IGatedMaths;
    static abstract TReal Forward1<TM>(in TM m, TReal x) where TM : struct, IUnaryMaths;
    static abstract TReal ValueAndGradient1<TM>(in TM m, TReal x, TReal grad, out TReal dX) where TM : struct, IUnaryMaths;
}

internal readonly struct Fp32Arithmetic : IArithmetic<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward<TM>(in TM m, float gate, float linear) where TM : struct, IGatedMaths => m.Forward(gate, linear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ValueAndGradients<TM>(in TM m, float gate, float linear, float grad, out float dGate, out float dLinear) where TM : struct, IGatedMaths
        => m.ValueAndGradients(gate, linear, grad, out dGate, out dLinear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward1<TM>(in TM m, float x) where TM : struct, IUnaryMaths => m.Forward(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ValueAndGradient1<TM>(in TM m, float x, float grad, out float dX) where TM : struct, IUnaryMaths => m.ValueAndGradients(x, grad, out dX);
}

internal readonly struct Fp64Arithmetic : IArithmetic<double>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Forward<TM>(in TM m, double gate, double linear) where TM : struct, IGatedMaths => m.ForwardF64(gate, linear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ValueAndGradients<TM>(in TM m, double gate, double linear, double grad, out double dGate, out double dLinear) where TM : struct, IGatedMaths
        => m.ValueAndGradientsF64(gate, linear, grad, out dGate, out dLinear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Forward1<TM>(in TM m, double x) where TM : struct, IUnaryMaths => m.ForwardF64(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ValueAndGradient1<TM>(in TM m, double x, double grad, out double dX) where TM : struct, IUnaryMaths => m.ValueAndGradientsF64(x, grad, out dX);
}
