using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MoeOpGen.Engines;

/// <summary>
/// The <see cref="OpMath"/> vocabulary on eight fp32 lanes: what the generated <c>Maths</c> struct's vector members
/// call, so the fused CPU kernel evaluates an operator's straight-line program eight elements at a time.
/// </summary>
/// <remarks>
/// <para>Why hand-written: the runtime targets net8.0, which has no vector exp or log (.NET 9 added
/// <c>Vector256.Exp</c>/<c>Log</c>), and no .NET version has a vector tanh, erf or sigmoid. Writing them here gives one
/// implementation on every target framework, whose results and NaN/∞ rules the tests pin (docs/numerics.md lists the
/// measured errors).</para>
/// <para>Accuracy against the correctly rounded result, fp32, over the full range (subnormals, ±∞ and NaN included):
/// see docs/numerics.md for each function's measured bound in ulps (Exp, Log, Erf: the neighbouring float of the
/// correctly rounded result at worst; Tanh, Sigmoid: two floats away); Sqrt, Abs, Min, Max, Clamp are exact (the
/// same operation as the scalar code); Pow is exact for n = 0, 1, 2, −1, within |n| + 2 floats for other integers
/// |n| ≤ 16, 3 for half-integers |n| ≤ 2, and within (3·|n·ln x| + 4)·2⁻²⁴ relative otherwise.</para>
/// <para>NaN and ∞ behave as in <see cref="OpMath"/>: a NaN argument gives NaN; Min, Max and Clamp use OpMath's
/// comparisons (<c>b &lt; a ? b : a</c>), so a NaN first argument propagates; exp(−∞) = 0, exp(+∞) = +∞, ln 0 = −∞,
/// ln of a negative number is NaN, tanh(±∞) = ±1, erf(±∞) = ±1, σ(−∞) = 0, σ(+∞) = 1.</para>
/// <para>Polynomials use fused multiply-adds where the CPU has them (x64 with FMA3: every AVX2 CPU in practice);
/// without, each step rounds twice (not measured: the tests run on an FMA machine). The arithmetic the generated code does
/// between these calls uses plain operators, as the scalar code does, so the vector and scalar kernels differ
/// only by these functions' rounding.</para>
/// </remarks>
public static class VectorMath
{
    // Cody–Waite split of ln 2: Ln2Hi has 9 significant bits, so n·Ln2Hi is exact for |n| < 2¹⁵.
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float Log2E = 1.44269504088896341f;

    /// <summary>1.5·2²³: adding and subtracting it rounds a float of magnitude below 2²² to the nearest integer.</summary>
    private const float RoundingShifter = 12582912f;

    /// <summary>The bits of <see cref="RoundingShifter"/>: y + 1.5·2²³ holds round(y) in its low mantissa bits.</summary>
    private const int RoundingShifterBits = 0x4B400000;

    /// <summary>eˣ.</summary>
    /// <remarks>
    /// x = n·ln 2 + r with n = round(x / ln 2), |r| ≤ ln2/2; eʳ by its Taylor series to r⁸/8! (truncation below
    /// 2⁻²⁷ relative); then scaled by 2ⁿ in two steps, so subnormal results are rounded once. x is limited to
    /// [−104, 89] first: beyond, the result is 0 or +∞ anyway.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var limited = Vector256.Min(Vector256.Max(x, Vector256.Create(-104f)), Vector256.Create(89f));
        var (n, k) = RoundToInteger(limited * Log2E);
        var r = MulAdd(n, Vector256.Create(-Ln2Lo), MulAdd(n, Vector256.Create(-Ln2Hi), limited));
        var p = Vector256<float>.One + ExpM1Reduced(r);
        var half = Vector256.ShiftRightArithmetic(k, 1);
        var result = p * PowerOfTwo(half) * PowerOfTwo(k - half);
        return KeepNaN(x, result);
    }

    /// <summary>Natural logarithm.</summary>
    /// <remarks>
    /// x = (1 + f)·2ᵉ with 1 + f in [√½, √2) (subnormals scaled by 2²³ first). With s = f/(2 + f), ln(1 + f) = 2 atanh s
    /// = f − (f²/2 − s·(f²/2 + R)), R = 2s²/3 + 2s⁴/5 + … + 2s¹⁰/11 (|s| ≤ 0.172: truncation below 2⁻³⁰): the
    /// rounding of s only touches the small correction term (fdlibm's arrangement). ln x = e·ln2 + ln(1 + f) with
    /// ln 2 split in two. Special values: ln(±0) = −∞, ln(x &lt; 0) = NaN, ln(+∞) = +∞, NaN stays NaN.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var subnormal = Vector256.LessThan(x, Vector256.Create(1.17549435e-38f));
        var scaled = Vector256.ConditionalSelect(subnormal, x * 8388608f, x);
        var bits = scaled.AsInt32();
        var exponent = (Vector256.ShiftRightArithmetic(bits, 23) & Vector256.Create(0xff)) - Vector256.ConditionalSelect(subnormal.AsInt32(), Vector256.Create(150), Vector256.Create(127));
        var m = ((bits & Vector256.Create(0x007fffff)) | Vector256.Create(0x3f800000)).AsSingle();   // [1, 2)
        var high = Vector256.GreaterThan(m, Vector256.Create(1.41421356f));
        m = Vector256.ConditionalSelect(high, m * 0.5f, m);
        var e = Vector256.ConvertToSingle(exponent - high.AsInt32());                                  // true lanes are −1
        var f = m - Vector256<float>.One;                                                              // exact
        var s = f / (f + Vector256.Create(2f));
        var z = s * s;
        var r = MulAdd(z, Vector256.Create(2f / 11), Vector256.Create(2f / 9));
        r = MulAdd(r, z, Vector256.Create(2f / 7));
        r = MulAdd(r, z, Vector256.Create(2f / 5));
        r = MulAdd(r, z, Vector256.Create(2f / 3));
        r *= z;
        var halfSquare = 0.5f * f * f;
        var logM = f - (halfSquare - s * (halfSquare + r));
        var result = MulAdd(e, Vector256.Create(Ln2Hi), MulAdd(e, Vector256.Create(Ln2Lo), logM));

        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity), result);
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256.Create(float.NaN), result);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.PositiveInfinity)), x, result);
        return KeepNaN(x, result);
    }

    /// <summary>Square root (IEEE, correctly rounded: the same result as <see cref="OpMath.Sqrt(float)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);

    /// <summary>Hyperbolic tangent.</summary>
    /// <remarks>
    /// With u = e^(2|x|) − 1 (<see cref="ExpM1"/>): tanh|x| = u / (u + 2), accurate near 0, for |x| &lt; 0.55, and
    /// 1 − 2/(u + 2) beyond, where the result nears 1 and the small term 2/(u + 2) keeps its relative accuracy, so the
    /// result rounds right (1 − tanh² and 1 ± tanh, which derivatives use, depend on that last ulp). |x| is limited to
    /// 9.5, where tanh rounds to 1, so u stays finite; the sign of x (−0 included) is put back at the end.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var a = Vector256.Min(Vector256.Abs(x), Vector256.Create(9.5f));
        var u = ExpM1(a + a);
        var d = u + Vector256.Create(2f);
        var t = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.55f)), u / d, Vector256<float>.One - Vector256.Create(2f) / d);
        return KeepNaN(x, t | (x & Vector256.Create(-0f)));
    }

    /// <summary>The logistic sigmoid 1 / (1 + e⁻ˣ), the formula of <see cref="OpMath.Sigmoid(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
        => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    /// <summary>The error function.</summary>
    /// <remarks>
    /// |x| &lt; 0.875: erf x = x + x·P(x²); otherwise erf|x| = 1 − exp(−Q(|x|)) with |x| limited to 4, where erf
    /// rounds to 1. P (degree 5) and Q (degree 8) are weighted minimax fits made by scripts/fit-erf-coefficients.cs,
    /// which also checks every float in [0, 4) (with MathF.Exp): at most 1.17 ulp from the correctly rounded erf.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Abs(x);

        var x2 = x * x;
        var p = MulAdd(x2, Vector256.Create(-0.0006222423f), Vector256.Create(0.005035872f));
        p = MulAdd(p, x2, Vector256.Create(-0.026793955f));
        p = MulAdd(p, x2, Vector256.Create(0.112825245f));
        p = MulAdd(p, x2, Vector256.Create(-0.37612557f));
        p = MulAdd(p, x2, Vector256.Create(0.12837915f));
        var near = MulAdd(x, p, x);

        var t = Vector256.Min(a, Vector256.Create(4f));
        var q = MulAdd(t, Vector256.Create(1.0259171E-06f), Vector256.Create(7.338283E-06f));
        q = MulAdd(q, t, Vector256.Create(-0.00035545984f));
        q = MulAdd(q, t, Vector256.Create(0.003917211f));
        q = MulAdd(q, t, Vector256.Create(-0.024620092f));
        q = MulAdd(q, t, Vector256.Create(0.10766411f));
        q = MulAdd(q, t, Vector256.Create(0.6338125f));
        q = MulAdd(q, t, Vector256.Create(1.1293176f));
        q = MulAdd(q, t, Vector256.Create(-0.00013878765f));
        var far = (Vector256<float>.One - Exp(-q)) | (x & Vector256.Create(-0f));

        return KeepNaN(x, Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.875f)), near, far));
    }

    /// <summary>xⁿ for a constant n, the vector twin of <see cref="OpMath.Pow(float, float)"/>.</summary>
    /// <remarks>
    /// Branches on n only (the same for every lane; the JIT folds them when n is a literal): n = 0 gives 1 (NaN
    /// included, as MathF.Pow); integers |n| ≤ 16 are products by repeated squaring (of 1/x for negative n, so that a
    /// result that fits does not overflow on the way); half-integers |n| ≤ 2 are such products of √x; anything else
    /// is exp(n·ln|x|), with
    /// the sign of x for odd integers and NaN for a finite negative x otherwise. As for MathF.Pow, a non-integer
    /// power of −0 is +0 and of −∞ is +∞ (n &gt; 0) or +0.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow(Vector256<float> x, float n)
    {
        if (n == 0f) return Vector256<float>.One;
        if (n == MathF.Round(n) && MathF.Abs(n) <= 16f) return IntegerPower(x, (int)n);
        var notMinusInfinity = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.NegativeInfinity)), Vector256.Create(float.PositiveInfinity), x);
        if (2f * n == MathF.Round(2f * n) && MathF.Abs(n) <= 2f) return Vector256.Abs(IntegerPower(Vector256.Sqrt(notMinusInfinity), (int)(2f * n)));
        var magnitude = Exp(n * Log(Vector256.Abs(x)));
        if (n == MathF.Round(n)) return MathF.Abs(n % 2f) == 1f ? magnitude | (x & Vector256.Create(-0f)) : magnitude;
        var finiteNegative = Vector256.LessThan(notMinusInfinity, Vector256<float>.Zero);
        return Vector256.ConditionalSelect(finiteNegative, Vector256.Create(float.NaN), magnitude);
    }

    /// <summary>bⁿ for an integer n with 1 ≤ |n| ≤ 16, by repeated squaring (of 1/b for negative n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> IntegerPower(Vector256<float> b, int n)
    {
        var square = n < 0 ? Vector256<float>.One / b : b;
        var result = Vector256<float>.One;
        for (int m = Math.Abs(n); ; square *= square)
        {
            if ((m & 1) != 0) result *= square;
            if ((m >>= 1) == 0) return result;
        }
    }

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);

    /// <summary><c>b &lt; a ? b : a</c> per lane, as <see cref="OpMath.Min(float, float)"/>: a on ties, a NaN in a propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.LessThan(b, a), b, a);

    /// <summary><c>b &gt; a ? b : a</c> per lane, as <see cref="OpMath.Max(float, float)"/>: a on ties, a NaN in a propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.GreaterThan(b, a), b, a);

    /// <summary><c>x &lt; lo ? lo : x &gt; hi ? hi : x</c> per lane, as <see cref="OpMath.Clamp(float, float, float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi)
        => Vector256.ConditionalSelect(Vector256.LessThan(x, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(x, hi), hi, x));

    /// <summary>eˣ − 1 for x in [0, 19] (Tanh's range): 2ⁿ·expm1(r) + (2ⁿ − 1), accurate near 0 where eˣ − 1 cancels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpM1(Vector256<float> x)
    {
        var (n, k) = RoundToInteger(x * Log2E);
        var r = MulAdd(n, Vector256.Create(-Ln2Lo), MulAdd(n, Vector256.Create(-Ln2Hi), x));
        var scale = PowerOfTwo(k);
        return MulAdd(scale, ExpM1Reduced(r), scale - Vector256<float>.One);
    }

    /// <summary>eʳ − 1 for |r| ≤ ln2/2: r + r²(1/2! + r/3! + … + r⁶/8!), truncation below 2⁻²⁷ relative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpM1Reduced(Vector256<float> r)
    {
        var p = MulAdd(r, Vector256.Create(1f / 40320), Vector256.Create(1f / 5040));
        p = MulAdd(p, r, Vector256.Create(1f / 720));
        p = MulAdd(p, r, Vector256.Create(1f / 120));
        p = MulAdd(p, r, Vector256.Create(1f / 24));
        p = MulAdd(p, r, Vector256.Create(1f / 6));
        p = MulAdd(p, r, Vector256.Create(0.5f));
        return MulAdd(r * r, p, r);
    }

    /// <summary>round(y) as a float and as an integer, for |y| &lt; 2²² (no float-to-int conversion needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Float, Vector256<int> Integer) RoundToInteger(Vector256<float> y)
    {
        var shifted = y + Vector256.Create(RoundingShifter);
        return (shifted - Vector256.Create(RoundingShifter), shifted.AsInt32() - Vector256.Create(RoundingShifterBits));
    }

    /// <summary>2ᵏ for integers k in [−126, 127], built in the exponent field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> PowerOfTwo(Vector256<int> k) => Vector256.ShiftLeft(k + Vector256.Create(127), 23).AsSingle();

    /// <summary>The lanes where x is NaN keep x (the approximations above would turn some into numbers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> KeepNaN(Vector256<float> x, Vector256<float> result) => Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);

    /// <summary>a·b + c, fused where the CPU can.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;
}
