using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.Intrinsics;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests;

/// <summary>
/// The generated derivatives are checked against the maths itself: BackwardF64 must match central finite
/// differences of ForwardF64, and the float Backward must agree with BackwardF64 to single precision. The points
/// are chosen away from the kinks of Abs, Min, Max, Clamp and ?: (where one-sided derivatives differ).
/// </summary>
public sealed class GeneratedMathsTests
{
    /// <summary>Upstream gradient: not 1, so a backward that forgot to multiply by it fails.</summary>
    private const double Grad = 0.7;

    /// <summary>Central-difference step: truncation error ~h² and rounding ~1e-16/h are both far below the tolerance.</summary>
    private const double Step = 1e-5;

    private const double FiniteDifferenceTolerance = 1e-6;

    /// <summary>fp32 evaluates the same straight-line program with ~6e-8 relative rounding per operation.</summary>
    private const double SinglePrecisionTolerance = 1e-4;

    private static readonly double[] GatePoints = [-1.7, -0.6, 0.45, 1.3];
    private static readonly double[] LinearPoints = [-0.8, 0.55, 1.6];

    public static TheoryData<string, string> GatedBodies { get; } = new()
    {
        { "PowConstant", "=> Pow(Abs(gate) + 0.5f, 2.5f) * linear + Pow(linear, 3) - Pow(gate * gate + 1f, -1.5f);" },
        { "MinMaxClamp", "=> Min(gate, 1f) * Max(linear, -0.5f) + Clamp(gate * linear, -0.7f, 0.6f);" },
        { "Conditional", "=> gate > 0.3f ? gate * gate * linear : -gate * Exp(linear);" },
        { "Erf", "=> 0.5f * gate * (1f + Erf(gate * 0.7071067811865476f)) * linear;" },
        { "TanhLogSqrtAbs", "=> Tanh(gate) * Log(1f + Sqrt(Abs(linear) + 1f)) + Sigmoid(gate * linear);" },
        { "Locals", "{\n        var k = 0.7978845608028654f * (gate + 0.044715f * gate * gate * gate);\n        var t = Tanh(k);\n        var r = gate > 0f ? gate : 0.1f * gate;\n        return 0.5f * gate * (1f + t) * linear + r * t;\n    }" },
        { "MathFCalls", "=> MathF.Exp(-gate * gate) * MathF.Tanh(linear) + MathF.Sqrt(MathF.Abs(gate) + 2f) / MathF.Max(linear, -0.5f + 0f * gate) + (float)Math.Log(gate * gate + 1f);" },
        { "Scalars", "=> Log(1f + Exp(beta * gate)) / beta * (linear + offset);" },
    };

    [Theory]
    [MemberData(nameof(GatedBodies))]
    public void Gated_backward_matches_finite_differences_and_single_precision(string name, string body)
    {
        string scalars = name == "Scalars" ? ", [Scalar] float beta = 1.5f, [Scalar] float offset = 0.25f" : "";
        using var generated = Generate(name, $"[GatedActivation]\npublic static partial class {name}\n{{\n    static float Forward(float gate, float linear{scalars}) {body}\n}}");
        var forward = generated.StaticMethod("Maths." + name, "ForwardF64", typeof(double));
        var backward64 = generated.StaticMethod("Maths." + name, "BackwardF64", typeof(double));
        var backward32 = generated.StaticMethod("Maths." + name, "Backward", typeof(float));
        // Non-default scalar values, so a default baked in by mistake would show.
        object[] scalarValues = name == "Scalars" ? [0.8, -0.3] : [];

        foreach (double gate in GatePoints)
        foreach (double linear in LinearPoints)
        {
            double F(double g, double l) => (double)forward.Invoke(null, [g, l, .. scalarValues])!;
            object[] args64 = [gate, linear, Grad, .. scalarValues, 0.0, 0.0];
            backward64.Invoke(null, args64);
            double dGate = (double)args64[^2], dLinear = (double)args64[^1];

            AssertClose(Grad * (F(gate + Step, linear) - F(gate - Step, linear)) / (2 * Step), dGate, FiniteDifferenceTolerance, $"{name} dGate at ({gate}, {linear})");
            AssertClose(Grad * (F(gate, linear + Step) - F(gate, linear - Step)) / (2 * Step), dLinear, FiniteDifferenceTolerance, $"{name} dLinear at ({gate}, {linear})");

            object[] args32 = [(float)gate, (float)linear, (float)Grad, .. scalarValues.Select(s => (object)(float)(double)s), 0f, 0f];
            backward32.Invoke(null, args32);
            AssertClose(dGate, (float)args32[^2], SinglePrecisionTolerance, $"{name} float dGate at ({gate}, {linear})");
            AssertClose(dLinear, (float)args32[^1], SinglePrecisionTolerance, $"{name} float dLinear at ({gate}, {linear})");
        }
    }

    public static TheoryData<string, string> UnaryBodies { get; } = new()
    {
        { "UnaryPow", "=> Pow(x * x + 0.5f, 0.75f) + Pow(x, 4);" },
        { "UnaryClamp", "=> Clamp(x, -1f, 1f) * x + Max(x, 0.2f) - Min(2f * x, 0.1f);" },
        { "UnaryErfTanh", "=> Erf(x) * Tanh(0.5f * x) + Sqrt(Abs(x)) * Log(2f + x * x);" },
    };

    [Theory]
    [MemberData(nameof(UnaryBodies))]
    public void Unary_backward_matches_finite_differences_and_single_precision(string name, string body)
    {
        using var generated = Generate(name, $"[Activation]\npublic static partial class {name}\n{{\n    static float Forward(float x) {body}\n}}");
        var forward = generated.StaticMethod("Maths." + name, "ForwardF64", typeof(double));
        var backward64 = generated.StaticMethod("Maths." + name, "BackwardF64", typeof(double));
        var backward32 = generated.StaticMethod("Maths." + name, "Backward", typeof(float));

        foreach (double x in GatePoints)
        {
            double F(double v) => (double)forward.Invoke(null, [v])!;
            var args64 = new object[] { x, Grad, 0.0 };
            backward64.Invoke(null, args64);
            double dX = (double)args64[^1];
            AssertClose(Grad * (F(x + Step) - F(x - Step)) / (2 * Step), dX, FiniteDifferenceTolerance, $"{name} dX at {x}");

            var args32 = new object[] { (float)x, (float)Grad, 0f };
            backward32.Invoke(null, args32);
            AssertClose(dX, (float)args32[^1], SinglePrecisionTolerance, $"{name} float dX at {x}");
        }
    }

    /// <summary>
    /// Inputs for the vector members: ordinary values, the kinks of Min, Max, Clamp and ?:, zero, and a large linear
    /// part that overflows the branch of a ?: that is not taken (the vector code evaluates both and picks per lane).
    /// </summary>
    private static readonly float[] VectorGatePoints = [-1.7f, -0.6f, 0f, 0.3f, 0.45f, 1f, 1.3f, 2.5f, -3f, 0.6f, -0.5f, 5f, 1e-3f, -1e-3f, 0.7f, -0.7f];
    private static readonly float[] VectorLinearPoints = [-0.8f, 0.55f, 1.6f, -0.5f, 0f, 100f, -0.7f, 0.6f];

    /// <summary>
    /// The Vector256 members of the Maths struct evaluate the same program as the float members, lane by lane: equal
    /// up to the few-ulp rounding of VectorMath's exp, log, tanh, erf, … (a wrong operator, operand order or
    /// broadcast would be off by far more).
    /// </summary>
    [Theory]
    [MemberData(nameof(GatedBodies))]
    public void Gated_vector_members_match_the_float_members(string name, string body)
    {
        string scalars = name == "Scalars" ? ", [Scalar] float beta = 1.5f, [Scalar] float offset = 0.25f" : "";
        using var generated = Generate(name, $"[GatedActivation]\npublic static partial class {name}\n{{\n    static float Forward(float gate, float linear{scalars}) {body}\n}}");
        var type = generated.Assembly.GetType($"Maths.{name}+Maths", throwOnError: true)!;
        object maths = name == "Scalars" ? Activator.CreateInstance(type, 0.8f, -0.3f)! : Activator.CreateInstance(type)!;
        var v = typeof(Vector256<float>);
        var forward = type.GetMethod("Forward", [typeof(float), typeof(float)])!;
        var valueAndGradients = type.GetMethod("ValueAndGradients", [typeof(float), typeof(float), typeof(float), typeof(float).MakeByRefType(), typeof(float).MakeByRefType()])!;
        var forwardV = type.GetMethod("Forward", [v, v])!;
        var valueAndGradientsV = type.GetMethod("ValueAndGradients", [v, v, v, v.MakeByRefType(), v.MakeByRefType()])!;

        foreach (float linear in VectorLinearPoints)
        for (int first = 0; first < VectorGatePoints.Length; first += 8)
        {
            var gates = Vector256.Create(VectorGatePoints, first);
            var grads = Vector256.Create(0.7f, -1.3f, 0.2f, 1f, -0.4f, 2f, 0.9f, -0.1f);
            var valueV = (Vector256<float>)forwardV.Invoke(maths, [gates, Vector256.Create(linear)])!;
            object[] argsV = [gates, Vector256.Create(linear), grads, null!, null!];
            var bothV = (Vector256<float>)valueAndGradientsV.Invoke(maths, argsV)!;
            for (int lane = 0; lane < 8; lane++)
            {
                float gate = gates[lane];
                string at = $"{name} at ({gate}, {linear})";
                AssertSameFloat((float)forward.Invoke(maths, [gate, linear])!, valueV[lane], $"{at} Forward");
                object[] args = [gate, linear, grads[lane], 0f, 0f];
                AssertSameFloat((float)valueAndGradients.Invoke(maths, args)!, bothV[lane], $"{at} value");
                AssertSameFloat((float)args[3], ((Vector256<float>)argsV[3])[lane], $"{at} dGate");
                AssertSameFloat((float)args[4], ((Vector256<float>)argsV[4])[lane], $"{at} dLinear");
            }
        }
    }

    [Theory]
    [MemberData(nameof(UnaryBodies))]
    public void Unary_vector_members_match_the_float_members(string name, string body)
    {
        using var generated = Generate(name, $"[Activation]\npublic static partial class {name}\n{{\n    static float Forward(float x) {body}\n}}");
        var type = generated.Assembly.GetType($"Maths.{name}+Maths", throwOnError: true)!;
        object maths = Activator.CreateInstance(type)!;
        var v = typeof(Vector256<float>);
        var valueAndGradients = type.GetMethod("ValueAndGradients", [typeof(float), typeof(float), typeof(float).MakeByRefType()])!;
        var valueAndGradientsV = type.GetMethod("ValueAndGradients", [v, v, v.MakeByRefType()])!;
        for (int first = 0; first < VectorGatePoints.Length; first += 8)
        {
            var xs = Vector256.Create(VectorGatePoints, first);
            var grads = Vector256.Create(0.7f, -1.3f, 0.2f, 1f, -0.4f, 2f, 0.9f, -0.1f);
            object[] argsV = [xs, grads, null!];
            var valueV = (Vector256<float>)valueAndGradientsV.Invoke(maths, argsV)!;
            for (int lane = 0; lane < 8; lane++)
            {
                object[] args = [xs[lane], grads[lane], 0f];
                AssertSameFloat((float)valueAndGradients.Invoke(maths, args)!, valueV[lane], $"{name} value at {xs[lane]}");
                AssertSameFloat((float)args[2], ((Vector256<float>)argsV[2])[lane], $"{name} dX at {xs[lane]}");
            }
        }
    }

    /// <summary>Equal within 1e-5 relative (1e-6 absolute near zero), or the same non-finite value.</summary>
    private static void AssertSameFloat(float expected, float actual, string what)
    {
        if (expected.Equals(actual) || (float.IsNaN(expected) && float.IsNaN(actual))) return;
        Assert.True(float.IsFinite(expected) && Math.Abs(expected - actual) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{what}: float members {expected:R}, vector members {actual:R}");
    }

    [Fact]
    public void A_wrong_derivative_would_be_caught_by_the_finite_difference_check()
    {
        // The oracle is only useful if it can fail: d/dx of x·|x| is 2|x|, and |x| (a plausible slip) is rejected.
        double x = 0.45;
        double fd = (Math.Abs(x + Step) * (x + Step) - Math.Abs(x - Step) * (x - Step)) / (2 * Step);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertClose(fd, Math.Abs(x), FiniteDifferenceTolerance, "deliberately wrong"));
    }

    private static GeneratedAssembly Generate(string name, string operatorClass)
    {
        var run = GeneratorHarness.Run((name + ".cs", "using System;\nusing MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace Maths;\n\n" + operatorClass));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationProblems);
        return new GeneratedAssembly(run.Output);
    }

    /// <summary>|expected − actual| ≤ tolerance · max(1, |expected|): relative for large values, absolute near zero.</summary>
    private static void AssertClose(double expected, double actual, double tolerance, string what)
    {
        double error = Math.Abs(expected - actual);
        if (!(error <= tolerance * Math.Max(1.0, Math.Abs(expected))))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (error {error:E2}, tolerance {tolerance:E0})");
    }
}
