using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using TorchSharp;
using Xunit;
using static MoeOpGen.OpMath;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

// Operators shaped like the bodies on which the generator fuzzer (tests/MoeOpGen.Generator.Tests/Fuzzing) found
// bugs. The fuzzer only compiles the composite (tensor) code; here it runs, against the fused CPU kernel and the
// fp64 scalar maths. That this file builds at all (warnings are errors) is part of the test.
#pragma warning disable CS0219, IDE0059 // locals that exist only to carry awkward names

/// <summary>A ?: whose comparison reads only a scalar: the composite takes one branch for the whole tensor.</summary>
[Activation]
public static partial class ScalarCondition
{
    public static float Forward(float x, [Scalar] float beta = 1f) => beta > 0.5f ? x * x : -x;
}

/// <summary>Clamp with a scalar as the clamped value and an input as one bound (overloads the composite lacked).</summary>
[Activation]
public static partial class ClampOfAScalar
{
    public static float Forward(float x, [Scalar] float beta = 0.5f) => Clamp(beta, x, 2f) * x + Clamp(beta, -1f, x);
}

/// <summary>Clamp with lo &gt; hi where the input is: the value is lo, so only lo's input gets the gradient.</summary>
[GatedActivation]
public static partial class InvertedClampBounds
{
    public static float Forward(float gate, float linear) => Clamp(0.1f, gate + 2f, linear) + gate * linear;
}

/// <summary>Infinite constants: a one-sided clamp, and Exp(1000) folded to +∞ by the generator.</summary>
[Activation]
public static partial class InfiniteConstants
{
    public static float Forward(float x) => Clamp(x, 0f, float.PositiveInfinity) + Min(x, Exp(1000f)) * 0.5f;
}

/// <summary>Constants float cannot hold (folded Exp(0.5), Sqrt(2)) in scalar and tensor positions of the composite.</summary>
[Activation]
public static partial class InexactConstants
{
    public static float Forward(float x, [Scalar] float beta = 1f) => (beta + Exp(0.5f)) * x + Sqrt(2f) * x * x;
}

/// <summary>Locals named like C++ keywords and generated identifiers, and comments with raw-string quotes and a trailing backslash.</summary>
[GatedActivation]
public static partial class HostileNames
{
    public static float Forward(float gate, float linear)
    {
        /* """ a raw-string delimiter in a comment */
        var auto = gate * 2f;           // a C++ keyword \
        var OpMath = Tanh(auto);        // the alias the generated C# uses
        var s = OpMath * linear;        // the CUDA maths' scalars parameter
        return s + auto * OpMath;
    }
}

/// <summary>Min(x, x): the generated C# compares a value with itself (CS1718 without the generator's pragma).</summary>
[Activation]
public static partial class SelfComparison
{
    public static float Forward(float x) => Min(x, x) + Max(x * 2f, x * 2f);
}
#pragma warning restore CS0219, IDE0059

/// <summary>The fused CPU kernel, the composite and the fp64 scalar maths agree on every fuzz-finding operator.</summary>
public class FuzzFindingTests
{
    public sealed record Case(string Name, Func<Tensor, Engine, Tensor> Forward, Func<Tensor, Tensor, Engine, Tensor> Backward,
        Func<double, double, (double Value, double DGate, double DLinear)> Scalar, bool Gated);

    private static readonly Case[] Cases =
    [
        Unary("ScalarCondition", (x, e) => ScalarCondition.Forward(x, 0.8f, e), (g, x, e) => ScalarCondition.Backward(g, x, 0.8f, e),
            x => (ScalarCondition.ForwardF64(x, 0.8f), D(gr => { ScalarCondition.BackwardF64(x, gr, 0.8f, out var d); return d; }))),
        Unary("ScalarConditionFalse", (x, e) => ScalarCondition.Forward(x, 0.2f, e), (g, x, e) => ScalarCondition.Backward(g, x, 0.2f, e),
            x => (ScalarCondition.ForwardF64(x, 0.2f), D(gr => { ScalarCondition.BackwardF64(x, gr, 0.2f, out var d); return d; }))),
        Unary("ClampOfAScalar", (x, e) => ClampOfAScalar.Forward(x, 0.5f, e), (g, x, e) => ClampOfAScalar.Backward(g, x, 0.5f, e),
            x => (ClampOfAScalar.ForwardF64(x, 0.5f), D(gr => { ClampOfAScalar.BackwardF64(x, gr, 0.5f, out var d); return d; }))),
        new("InvertedClampBounds", (x, e) => InvertedClampBounds.Forward(x, engine: e), (g, x, e) => InvertedClampBounds.Backward(g, x, engine: e).InputGrad,
            (a, b) => { InvertedClampBounds.BackwardF64(a, b, 1, out var da, out var db); return (InvertedClampBounds.ForwardF64(a, b), da, db); }, true),
        Unary("InfiniteConstants", (x, e) => InfiniteConstants.Forward(x, e), (g, x, e) => InfiniteConstants.Backward(g, x, e),
            x => (InfiniteConstants.ForwardF64(x), D(gr => { InfiniteConstants.BackwardF64(x, gr, out var d); return d; }))),
        Unary("InexactConstants", (x, e) => InexactConstants.Forward(x, 1.5f, e), (g, x, e) => InexactConstants.Backward(g, x, 1.5f, e),
            x => (InexactConstants.ForwardF64(x, 1.5f), D(gr => { InexactConstants.BackwardF64(x, gr, 1.5f, out var d); return d; }))),
        new("HostileNames", (x, e) => HostileNames.Forward(x, engine: e), (g, x, e) => HostileNames.Backward(g, x, engine: e).InputGrad,
            (a, b) => { HostileNames.BackwardF64(a, b, 1, out var da, out var db); return (HostileNames.ForwardF64(a, b), da, db); }, true),
        Unary("SelfComparison", (x, e) => SelfComparison.Forward(x, e), (g, x, e) => SelfComparison.Backward(g, x, e),
            x => (SelfComparison.ForwardF64(x), D(gr => { SelfComparison.BackwardF64(x, gr, out var d); return d; }))),
    ];

    private static Case Unary(string name, Func<Tensor, Engine, Tensor> forward, Func<Tensor, Tensor, Engine, Tensor> backward, Func<double, (double, double)> scalar)
        => new(name, forward, backward, (x, _) => { var (v, d) = scalar(x); return (v, d, 0); }, false);

    private static double D(Func<double, double> backwardAtUnitGrad) => backwardAtUnitGrad(1);

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in Cases)
            foreach (var dtype in new[] { "Float32", "Float64" })
                data.Add(c.Name, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Fused_composite_and_scalar_maths_agree(string name, string dtypeName)
    {
        var c = Cases.Single(x => x.Name == name);
        var dtype = Enum.Parse<ScalarType>(dtypeName);
        using var scope = NewDisposeScope();
        // Points away from every switch of these bodies (|x| ≠ 0, 0.5, 1, 2; gate + 2 ≠ linear …).
        var x = (randn([7, 6], generator: new Generator(11)) * 1.3 + 0.05).to(dtype);
        var grad = ones(c.Gated ? [7, 3] : [7, 6], dtype: dtype);
        var tol = Tolerance.For(dtype);

        // Known limitation (docs/reliability.md): the composite computes a subexpression that reads only scalars and
        // constants, here beta + e^0.5, in float even for fp64 tensors, so it holds only fp32's tolerance there.
        var compositeTol = name == "InexactConstants" && dtype == ScalarType.Float64 ? Tolerance.Fp32 : tol;
        var fused = c.Forward(x, Engine.Auto);
        var composite = c.Forward(x, Engine.Composite);
        TensorAssert.Close(fused, composite, compositeTol, $"{name} forward: fused vs composite");
        var dFused = c.Backward(grad, x, Engine.Auto);
        var dComposite = c.Backward(grad, x, Engine.Composite);
        TensorAssert.Close(dFused, dComposite, compositeTol, $"{name} backward: fused vs composite");

        // The fp64 scalar maths, element by element.
        var xs = x.to(ScalarType.Float64).data<double>().ToArray();
        var values = new List<double>();
        var grads = new List<double>();
        if (c.Gated)
        {
            for (int r = 0; r < 7; r++)
            {
                var dg = new double[3];
                var dl = new double[3];
                for (int j = 0; j < 3; j++)
                {
                    var (v, da, db) = c.Scalar(xs[r * 6 + j], xs[r * 6 + 3 + j]);
                    values.Add(v);
                    dg[j] = da;
                    dl[j] = db;
                }
                grads.AddRange(dg);
                grads.AddRange(dl);
            }
        }
        else
        {
            foreach (double v in xs)
            {
                var (value, d, _) = c.Scalar(v, 0);
                values.Add(value);
                grads.Add(d);
            }
        }
        TensorAssert.Close(tensor(values.ToArray()).reshape(fused.shape), fused, tol, $"{name} forward vs ForwardF64");
        TensorAssert.Close(tensor(grads.ToArray()).reshape(dFused.shape), dFused, tol, $"{name} backward vs BackwardF64");
    }

    [Fact]
    public void Inverted_clamp_bounds_send_the_gradient_to_lo_only()
    {
        // Clamp(0.1, gate + 2, linear) with gate + 2 > linear is gate + 2 (lo): d/dgate = 1 + linear, d/dlinear = gate.
        InvertedClampBounds.BackwardF64(0.5, -1.0, 1.0, out var dGate, out var dLinear);
        Assert.Equal(1 + -1.0, dGate, 12);
        Assert.Equal(0.5, dLinear, 12);
    }
}
