using System;
using System.Runtime.CompilerServices;

namespace MoeOpGen;

/// <summary>
/// The functions an operator's <c>Forward</c> may call. Each has a <c>float</c> and a <c>double</c> overload;
/// the generator knows each one's derivative (docs/dsl.md lists the rules).
/// </summary>
/// <remarks>
/// <c>Min</c>, <c>Max</c> and <c>Clamp</c> pass the gradient at ties and boundaries
/// (like PyTorch's <c>clamp</c>, unlike its <c>maximum</c>, which splits it): the derivative of
/// <c>Min(a, b)</c> goes to <c>a</c> where <c>a ≤ b</c>, of <c>Max(a, b)</c> to <c>a</c> where <c>a ≥ b</c>.
/// </remarks>
public static class OpMath
{
    /// <summary>eˣ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float x) => MathF.Exp(x);
    /// <summary>eˣ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Exp(double x) => Math.Exp(x);

    /// <summary>Natural logarithm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Log(float x) => MathF.Log(x);
    /// <summary>Natural logarithm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Log(double x) => Math.Log(x);

    /// <summary>Square root.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float x) => MathF.Sqrt(x);
    /// <summary>Square root.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sqrt(double x) => Math.Sqrt(x);

    /// <summary>Hyperbolic tangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Tanh(float x) => MathF.Tanh(x);
    /// <summary>Hyperbolic tangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Tanh(double x) => Math.Tanh(x);

    /// <summary>Logistic sigmoid 1 / (1 + e⁻ˣ).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
    /// <summary>Logistic sigmoid 1 / (1 + e⁻ˣ).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Sigmoid(double x) => 1d / (1d + Math.Exp(-x));

    /// <summary>xⁿ; the generator requires a constant exponent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow(float x, float n) => MathF.Pow(x, n);
    /// <summary>xⁿ; the generator requires a constant exponent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Pow(double x, double n) => Math.Pow(x, n);

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float x) => MathF.Abs(x);
    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Abs(double x) => Math.Abs(x);

    /// <summary>The smaller of a and b (a on ties; a NaN in a propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => b < a ? b : a;
    /// <summary>The smaller of a and b (a on ties; a NaN in a propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Min(double a, double b) => b < a ? b : a;

    /// <summary>The larger of a and b (a on ties; a NaN in a propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => b > a ? b : a;
    /// <summary>The larger of a and b (a on ties; a NaN in a propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Max(double a, double b) => b > a ? b : a;

    /// <summary>x limited to [lo, hi] (a NaN x propagates); the gradient passes on the boundary.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Clamp(float x, float lo, float hi) => x < lo ? lo : x > hi ? hi : x;
    /// <summary>x limited to [lo, hi] (a NaN x propagates); the gradient passes on the boundary.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static double Clamp(double x, double lo, double hi) => x < lo ? lo : x > hi ? hi : x;

    /// <summary>The error function erf(x) in single precision, rounded from <see cref="Erf(double)"/>.</summary>
    /// <remarks>.NET has no <c>MathF.Erf</c>; see <see cref="Erf(double)"/> for the method and its error.</remarks>
    public static float Erf(float x) => (float)Erf((double)x);

    /// <summary>The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt.</summary>
    /// <remarks>
    /// .NET has no erf and no served package provides one, so it is computed here: for |x| &lt; 3 by its Maclaurin
    /// series (alternating terms peak near 10³ at |x| = 3, so cancellation costs about 3 of double's 16 digits:
    /// absolute error below 1e-13), beyond by the Laplace continued fraction of erfc evaluated with Lentz's method
    /// to a relative tolerance of 1e-16 (erfc(3) ≈ 2.2e-5, so again below 1e-13 absolutely). NaN propagates,
    /// erf(±∞) = ±1. Accurate enough to be the fp64 oracle of finite-difference tests.
    /// </remarks>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 3.0)
        {
            // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return TwoOverSqrtPi * sum;
        }
        if (double.IsInfinity(ax)) return Math.Sign(x);
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) * ErfcContinuedFraction(ax);
        return Math.Sign(x) * (1.0 - erfc);
    }

    /// <summary>1 / (x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), the continued fraction of √π e^(x²) erfc(x).</summary>
    private static double ErfcContinuedFraction(double x)
    {
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++)
        {
            double a = k / 2.0;
            d = x + a * d; if (d == 0) d = tiny; d = 1 / d;
            c = x + a / c; if (c == 0) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return 1 / f;
    }

    private const double TwoOverSqrtPi = 1.1283791670955126;
}
