using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using MoeOpGen.Engines;
using Xunit;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// The vector functions of the fused CPU kernel against the correctly rounded fp32 result (computed in fp64) and
/// against the scalar OpMath, over a sweep of the whole float range (every 1021st bit pattern: both signs, subnormals,
/// huge arguments), every float of the ranges where an approximation switches or cancels, and the special values.
/// </summary>
public class VectorMathTests
{
    public static TheoryData<string> Functions => new(VectorFunctions.Keys);

    private static readonly Dictionary<string, (Func<Vector256<float>, Vector256<float>> Vector, Func<float, float> Scalar, Func<double, double> Exact, int MaxUlps)> VectorFunctions = new()
    {
        ["Exp"] = (VectorMath.Exp, OpMath.Exp, Math.Exp, 1),
        ["Log"] = (VectorMath.Log, OpMath.Log, Math.Log, 1),
        ["Tanh"] = (VectorMath.Tanh, OpMath.Tanh, Math.Tanh, 2),
        // OpMath's formula 1 / (1 + e⁻ˣ) overflows e⁻ˣ to ∞ below x = −88.72 and gives 0 where σ(x) is a subnormal
        // below 2.9e-39, in the scalar code as in the vector code; the exact reference is the same formula's limit there.
        ["Sigmoid"] = (VectorMath.Sigmoid, OpMath.Sigmoid, x => x <= -88.72283935546875 ? 0 : 1 / (1 + Math.Exp(-x)), 2),
        ["Erf"] = (VectorMath.Erf, OpMath.Erf, OpMath.Erf, 1),
        ["Sqrt"] = (VectorMath.Sqrt, OpMath.Sqrt, Math.Sqrt, 0),
        ["Abs"] = (VectorMath.Abs, OpMath.Abs, Math.Abs, 0),
        ["Square"] = (x => VectorMath.Pow(x, 2f), x => OpMath.Pow(x, 2f), x => x * x, 0),
        ["Cube"] = (x => VectorMath.Pow(x, 3f), x => OpMath.Pow(x, 3f), x => x * x * x, 1),
        ["Reciprocal"] = (x => VectorMath.Pow(x, -1f), x => OpMath.Pow(x, -1f), x => 1 / x, 0),
        ["InverseSquare"] = (x => VectorMath.Pow(x, -2f), x => OpMath.Pow(x, -2f), x => 1 / (x * x), 2),
        ["Pow7"] = (x => VectorMath.Pow(x, 7f), x => OpMath.Pow(x, 7f), x => Math.Pow(x, 7), 4),
        ["Pow-6"] = (x => VectorMath.Pow(x, -6f), x => OpMath.Pow(x, -6f), x => Math.Pow(x, -6), 8),
        ["Pow1.5"] = (x => VectorMath.Pow(x, 1.5f), x => OpMath.Pow(x, 1.5f), x => Math.Pow(x, 1.5), 3),
        ["Pow-0.5"] = (x => VectorMath.Pow(x, -0.5f), x => OpMath.Pow(x, -0.5f), x => Math.Pow(x, -0.5), 3),
        ["Pow0.5"] = (x => VectorMath.Pow(x, 0.5f), x => OpMath.Pow(x, 0.5f), x => Math.Pow(x, 0.5), 0),
    };

    /// <summary>
    /// MaxUlps is a distance in floats from the correctly rounded result (1 = the neighbouring float, i.e. under
    /// 1.5 ulp of true error). The bound against the scalar OpMath is one more: both sides round.
    /// </summary>
    [Theory]
    [MemberData(nameof(Functions))]
    public void WithinTheirUlpBoundOverTheWholeRange(string name)
    {
        var (vector, scalar, exact, maxUlps) = VectorFunctions[name];
        var inputs = Sweep().Concat(DenseRanges(name)).Concat(Specials).ToArray();
        var results = Evaluate(vector, inputs);
        long worstExact = 0, worstScalar = 0;
        float worstExactAt = 0, worstScalarAt = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            float x = inputs[i], v = results[i];
            float reference = (float)exact(x), s = scalar(x);
            long dExact = UlpDistance(v, reference), dScalar = UlpDistance(v, s);
            if (dExact > worstExact) (worstExact, worstExactAt) = (dExact, x);
            if (dScalar > worstScalar) (worstScalar, worstScalarAt) = (dScalar, x);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: worst {worstExact} ulp from the correctly rounded result (x = {worstExactAt:R}), {worstScalar} from OpMath (x = {worstScalarAt:R}), {inputs.Length} inputs");
        Assert.True(worstExact <= maxUlps, $"{name}: {worstExact} ulp from the correctly rounded result at x = {worstExactAt:R}");
        Assert.True(worstScalar <= maxUlps + 1, $"{name}: {worstScalar} ulp from OpMath at x = {worstScalarAt:R}");
    }

    /// <summary>
    /// Other exponents go through exp(n·ln|x|): the rounding of n·ln|x| (up to ~90 in magnitude) is amplified,
    /// so the bound is relative: (3·|n·ln x| + 4)·2⁻²⁴ (log's and the product's rounding, and exp's); special
    /// values as MathF.Pow.
    /// </summary>
    [Theory]
    [InlineData(2.7f)]
    [InlineData(-0.3f)]
    [InlineData(20f)]
    [InlineData(-17f)]
    public void GeneralPowersWithinTheirRelativeBound(float n)
    {
        var inputs = Sweep().Concat(Specials).Concat(new[] { -2f, -3f, -0.5f }).ToArray();
        var results = Evaluate(x => VectorMath.Pow(x, n), inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            float x = inputs[i], v = results[i];
            double exact = Math.Pow(x, n);
            float rounded = (float)exact, scalar = OpMath.Pow(x, n);
            if (float.IsNaN(rounded) || float.IsInfinity(rounded) || rounded == 0f || float.IsSubnormal(rounded))
            {
                // Special, overflowing and underflowing results: the same class of value as MathF.Pow.
                Assert.True(UlpDistance(v, scalar) <= 1 || Math.Abs(v - scalar) <= 1e-38, $"Pow({x:R}, {n}) = {v:R}, MathF.Pow {scalar:R}");
                continue;
            }
            double bound = (3 * Math.Abs(n * Math.Log(Math.Abs(x))) + 4) * Math.Pow(2, -24);
            Assert.True(Math.Abs(v - exact) <= bound * Math.Abs(exact), $"Pow({x:R}, {n}) = {v:R}, exact {exact:R}");
        }
    }

    [Fact]
    public void SpecialValuesFollowOpMath()
    {
        float nan = float.NaN, inf = float.PositiveInfinity;
        Expect(VectorMath.Exp, [nan, -inf, inf, 0f, -0f, 89f, -105f], [nan, 0f, inf, 1f, 1f, inf, 0f]);
        Expect(VectorMath.Log, [nan, -inf, inf, 0f, -0f, -1f, 1f, -float.Epsilon], [nan, nan, inf, -inf, -inf, nan, 0f, nan]);
        Expect(VectorMath.Tanh, [nan, -inf, inf, 0f, -0f, 1e-30f, -20f, float.Epsilon], [nan, -1f, 1f, 0f, -0f, 1e-30f, -1f, float.Epsilon]);
        Expect(VectorMath.Sigmoid, [nan, -inf, inf, 0f, -200f, 200f], [nan, 0f, 1f, 0.5f, 0f, 1f]);
        Expect(VectorMath.Erf, [nan, -inf, inf, 0f, -0f, 10f, -10f, float.Epsilon], [nan, -1f, 1f, 0f, -0f, 1f, -1f, float.Epsilon]);
        Expect(x => VectorMath.Pow(x, 0f), [nan, inf, 0f], [1f, 1f, 1f]);
        Expect(x => VectorMath.Pow(x, -1f), [0f, -0f, inf], [inf, -inf, 0f]);
        Expect(x => VectorMath.Pow(x, 1.5f), [-1f, 0f, -0f, inf, -inf, nan], [nan, 0f, 0f, inf, inf, nan]);
        Expect(x => VectorMath.Pow(x, 0.5f), [-0f, -inf], [0f, inf]);
        Expect(x => VectorMath.Pow(x, 2.7f), [-1f, -0f, -inf, inf, 0f], [nan, 0f, inf, inf, 0f]);
        Expect(x => VectorMath.Pow(x, 5f), [-0f, 0f, -inf], [-0f, 0f, -inf]);
        // A NaN first argument propagates; a NaN second argument gives the first (OpMath's comparisons).
        Expect(x => VectorMath.Min(x, Vector256.Create(1f)), [nan, 2f, 0f], [nan, 1f, 0f]);
        Expect(x => VectorMath.Min(Vector256.Create(1f), x), [nan, 2f, 0f], [1f, 1f, 0f]);
        Expect(x => VectorMath.Max(x, Vector256.Create(1f)), [nan, 2f, 0f], [nan, 2f, 1f]);
        Expect(x => VectorMath.Clamp(x, Vector256.Create(-1f), Vector256.Create(1f)), [nan, 2f, -2f, 0.5f], [nan, 1f, -1f, 0.5f]);
    }

    private static void Expect(Func<Vector256<float>, Vector256<float>> f, float[] inputs, float[] expected)
    {
        var actual = Evaluate(f, inputs);
        for (int i = 0; i < inputs.Length; i++)
            Assert.True(expected[i].Equals(actual[i]) && float.IsNegative(expected[i]) == float.IsNegative(actual[i]) || float.IsNaN(expected[i]) && float.IsNaN(actual[i]),
                $"f({inputs[i]:R}) = {actual[i]:R}, expected {expected[i]:R}");
    }

    private static float[] Evaluate(Func<Vector256<float>, Vector256<float>> f, float[] inputs)
    {
        var padded = new float[(inputs.Length + 7) / 8 * 8];
        inputs.CopyTo(padded, 0);
        var results = new float[padded.Length];
        for (int i = 0; i < padded.Length; i += 8) f(Vector256.Create(padded, i)).CopyTo(results, i);
        return results[..inputs.Length];
    }

    /// <summary>Every 1021st bit pattern: 4.2 million floats spread over both signs, all exponents and NaN payloads.</summary>
    private static IEnumerable<float> Sweep()
    {
        for (long bits = 0; bits <= uint.MaxValue; bits += 1021) yield return BitConverter.UInt32BitsToSingle((uint)bits);
    }

    /// <summary>Every float near the points where an approximation switches or cancels.</summary>
    private static IEnumerable<float> DenseRanges(string name)
    {
        IEnumerable<float> Around(float centre, int count)
        {
            float x = centre;
            for (int i = 0; i < count; i++) x = MathF.BitDecrement(x);
            for (int i = 0; i < 2 * count; i++, x = MathF.BitIncrement(x)) yield return x;
        }
        var points = name switch
        {
            "Erf" => new[] { 0.875f, -0.875f, 4f, 1f, 2f },
            "Log" => [1f, MathF.Sqrt(2f), 0.5f, 1.17549435e-38f],
            "Exp" or "Sigmoid" => [0f, 0.34657359f, 88.72f, -87.33f, -103.9f],
            "Tanh" => [0f, 9.01f, 0.5f],
            _ => [1f, 0f],
        };
        return points.SelectMany(p => Around(p, 100_000));
    }

    private static readonly float[] Specials =
    [
        float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon,
        float.MaxValue, float.MinValue, 1.17549435e-38f, -1.17549435e-38f, 1f, -1f, 1e-30f, 100f, -100f,
    ];

    /// <summary>Distance in representable floats (0 for equal values, NaN against NaN, and +0 against −0).</summary>
    private static long UlpDistance(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        return Math.Abs(Ordered(a) - Ordered(b));

        static long Ordered(float f)
        {
            int bits = BitConverter.SingleToInt32Bits(f);
            return bits < 0 ? -(long)(bits & 0x7fffffff) : bits;
        }
    }
}
