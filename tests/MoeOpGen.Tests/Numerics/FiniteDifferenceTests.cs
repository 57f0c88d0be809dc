using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// The generated double backward against fp64 central differences of ForwardF64, at random points away from the
/// kinks (gate or x near 0, where ReGlu and SquaredRelu are not smooth): rel 1e-6 (DESIGN.md).
/// </summary>
public class FiniteDifferenceTests
{
    private const double Step = 1e-5;          // truncation h²·f'''/6 ≈ 1e-11, round-off ε·|f|/h ≈ 1e-10
    private const double Rel = 1e-6;
    private const double RelFloor = 1e-2;      // relative to max(|analytic|, 0.01): a near-zero derivative is judged absolutely
    private const int Points = 200;

    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void GatedBackwardF64MatchesCentralDifferences(string name)
    {
        var op = OperatorCases.GatedByName(name);
        var rng = new Random(17);
        for (int i = 0; i < Points; i++)
        {
            double a = AwayFromKink(rng), l = Uniform(rng, -3, 3), g = Uniform(rng, -2, 2);
            op.BackwardF64(a, l, g, out var dA, out var dL);
            double fdA = g * (op.ForwardF64(a + Step, l) - op.ForwardF64(a - Step, l)) / (2 * Step);
            double fdL = g * (op.ForwardF64(a, l + Step) - op.ForwardF64(a, l - Step)) / (2 * Step);
            AssertRel(fdA, dA, $"{name} dGate at ({a:R}, {l:R}), grad {g:R}");
            AssertRel(fdL, dL, $"{name} dLinear at ({a:R}, {l:R}), grad {g:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryNames), MemberType = typeof(Variants))]
    public void UnaryBackwardF64MatchesCentralDifferences(string name)
    {
        var op = OperatorCases.UnaryByName(name);
        var rng = new Random(23);
        for (int i = 0; i < Points; i++)
        {
            double x = AwayFromKink(rng), g = Uniform(rng, -2, 2);
            op.BackwardF64(x, g, out var dX);
            double fd = g * (op.ForwardF64(x + Step) - op.ForwardF64(x - Step)) / (2 * Step);
            AssertRel(fd, dX, $"{name} dX at {x:R}, grad {g:R}");
        }
    }

    /// <summary>The fp32 scalar Forward/Backward are the fp64 twins rounded: fp32 tolerance.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void GatedFloatScalarsMatchDoubleTwins(string name)
    {
        var op = OperatorCases.GatedByName(name);
        var rng = new Random(29);
        var tol = Tolerance.Fp32;
        for (int i = 0; i < Points; i++)
        {
            float a = (float)AwayFromKink(rng), l = (float)Uniform(rng, -3, 3), g = (float)Uniform(rng, -2, 2);
            op.ScalarBackward(a, l, g, out var dA, out var dL);
            op.BackwardF64(a, l, g, out var dA64, out var dL64);
            AssertClose(op.ForwardF64(a, l), op.Oracle(a, l), tol, $"{name} Forward({a:R}, {l:R})");
            AssertClose(dA64, dA, tol, $"{name} Backward dGate ({a:R}, {l:R})");
            AssertClose(dL64, dL, tol, $"{name} Backward dLinear ({a:R}, {l:R})");
        }
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryNames), MemberType = typeof(Variants))]
    public void UnaryFloatScalarsMatchDoubleTwins(string name)
    {
        var op = OperatorCases.UnaryByName(name);
        var rng = new Random(31);
        for (int i = 0; i < Points; i++)
        {
            float x = (float)AwayFromKink(rng), g = (float)Uniform(rng, -2, 2);
            op.ScalarBackward(x, g, out var dX);
            op.BackwardF64(x, g, out var dX64);
            AssertClose(op.ForwardF64(x), op.Oracle(x), Tolerance.Fp32, $"{name} Forward({x:R})");
            AssertClose(dX64, dX, Tolerance.Fp32, $"{name} Backward({x:R})");
        }
    }

    private static double Uniform(Random rng, double lo, double hi) => lo + (hi - lo) * rng.NextDouble();

    /// <summary>|v| in [0.1, 4], either sign: no operator has a kink there.</summary>
    private static double AwayFromKink(Random rng) => (rng.Next(2) == 0 ? -1 : 1) * Uniform(rng, 0.1, 4);

    private static void AssertRel(double finiteDifference, double analytic, string what)
    {
        double err = Math.Abs(finiteDifference - analytic) / Math.Max(Math.Abs(analytic), RelFloor);
        Assert.True(err <= Rel, $"{what}: analytic {analytic:R}, finite difference {finiteDifference:R}, rel error {err:E2}");
    }

    private static void AssertClose(double expected, double actual, Tolerance tol, string what)
        => Assert.True(Math.Abs(actual - expected) <= tol.Atol + tol.Rtol * Math.Abs(expected), $"{what}: {actual:R}, expected {expected:R}");
}
