using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MoeOpGen.Engines;

/// <summary>How a storage type is read into and written from its arithmetic type (fp32, or fp64 for fp64).</summary>
internal interface IElement<TStorage, TReal>
    where TStorage : unmanaged
    where TReal : unmanaged, IFloatingPointIeee754<TReal>
{
    static abstract TReal Load(TStorage value);
    static abstract TStorage Store(TReal value);
}

/// <summary>
/// A storage type with fp32 arithmetic read and written eight elements at a time, for the fused CPU kernels'
/// vector loops: the same values as eight scalar <see cref="IElement{TStorage, TReal}.Load"/>/<c>Store</c> calls.
/// </summary>
internal unsafe interface IVectorElement<TStorage> : IElement<TStorage, float>
    where TStorage : unmanaged
{
    static abstract Vector256<float> LoadVector(TStorage* source);
    static abstract void StoreVector(Vector256<float> value, TStorage* destination);
}

internal readonly unsafe struct Fp32Element : IVectorElement<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Store(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadVector(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreVector(Vector256<float> value, float* destination) => value.Store(destination);
}

internal readonly struct Fp64Element : IElement<double, double>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Load(double value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Store(double value) => value;
}

/// <summary>fp16, converted one element at a time: net8.0 has no vector half conversion (x64's F16C is not exposed).</summary>
internal readonly unsafe struct Fp16Element : IVectorElement<Half>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(Half value) => (float)value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Half Store(float value) => (Half)value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadVector(Half* s)
        => Vector256.Create((float)s[0], (float)s[1], (float)s[2], (float)s[3], (float)s[4], (float)s[5], (float)s[6], (float)s[7]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreVector(Vector256<float> value, Half* destination)
    {
        for (int i = 0; i < Vector256<float>.Count; i++) destination[i] = (Half)value.GetElement(i);
    }
}

/// <summary>bfloat16 as its raw 16 bits (net8.0 has no BFloat16 type): the high half of an fp32.</summary>
internal readonly unsafe struct Bf16Element : IVectorElement<ushort>
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

    /// <summary>Eight bf16 widened to the high halves of eight fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadVector(ushort* source)
    {
        var bits = Vector128.Load(source);
        return Vector256.ShiftLeft(Vector256.Create(Vector128.WidenLower(bits), Vector128.WidenUpper(bits)), 16).AsSingle();
    }

    /// <summary><see cref="Store(float)"/> on eight lanes: round to nearest even, NaN made quiet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreVector(Vector256<float> value, ushort* destination)
    {
        var bits = Round(value);
        Vector128.Narrow(bits.GetLower(), bits.GetUpper()).Store(destination);
    }

    /// <summary>
    /// Eight interleaved (gate, linear) pairs: each 32-bit word holds one pair, the gate in its low half (x64 is
    /// little-endian), so the fp32 gate is the word shifted up and the fp32 linear is the word's high half — no
    /// permutes, unlike the other storage types' interleaved loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> Gate, Vector256<float> Linear) LoadPairs(ushort* source)
    {
        var words = Vector256.Load((uint*)source);
        return (Vector256.ShiftLeft(words, 16).AsSingle(), (words & Vector256.Create(0xffff0000u)).AsSingle());
    }

    /// <summary>The inverse of <see cref="LoadPairs"/>: eight rounded (gate, linear) pairs as eight 32-bit words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePairs(Vector256<float> gate, Vector256<float> linear, ushort* destination)
        => (Round(gate) | Vector256.ShiftLeft(Round(linear), 16)).Store((uint*)destination);

    /// <summary>The bf16 bits of <see cref="Store(float)"/> in the low half of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<float> value)
    {
        var u = value.AsUInt32();
        var nan = Vector256.GreaterThan((u & Vector256.Create(0x7fffffffu)).AsInt32(), Vector256.Create(0x7f800000)).AsUInt32();
        var rounded = Vector256.ShiftRightLogical(u + Vector256.Create(0x7fffu) + (Vector256.ShiftRightLogical(u, 16) & Vector256<uint>.One), 16);
        var quiet = Vector256.ShiftRightLogical(u, 16) | Vector256.Create(0x40u);
        return Vector256.ConditionalSelect(nan, quiet, rounded);
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
