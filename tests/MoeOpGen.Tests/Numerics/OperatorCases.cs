using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

public delegate Tensor GatedApply(Tensor input, Tensor? weights, Tensor? bias, double? clampValue, bool fp8InputStore, GateLayout layout);
public delegate Tensor GatedForward(Tensor input, Tensor? weights, Tensor? bias, double? clampValue, GateLayout layout, Engine engine);
public delegate (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) GatedBackward(
    Tensor grad, Tensor input, Tensor? weights, Tensor? bias, double? clampValue, GateLayout layout, Engine engine);
public delegate Tensor GatedCompositeForward(Tensor input, Tensor? weights, Tensor? bias, GatedOptions options);
public delegate void GatedScalarBackward<T>(T gate, T linear, T grad, out T dGate, out T dLinear);
public delegate void UnaryScalarBackward<T>(T x, T grad, out T dX);

/// <summary>
/// One gated operator seen through delegates, so every numerics test runs over every operator. Operators with
/// [Scalar]s are bound to NON-default values, so a scalar that an engine drops or reorders shows up as a mismatch.
/// </summary>
public sealed record GatedCase(
    string Name,
    GatedApply Apply,
    GatedForward Forward,
    GatedBackward Backward,
    GatedCompositeForward Composite,
    Func<float, float, float> Oracle,
    GatedScalarBackward<float> ScalarBackward,
    Func<double, double, double> ForwardF64,
    GatedScalarBackward<double> BackwardF64)
{
    public override string ToString() => Name;
}

/// <summary>One unary operator seen through delegates (scalars bound to non-default values).</summary>
public sealed record UnaryCase(
    string Name,
    Func<Tensor, Tensor> Apply,
    Func<Tensor, Engine, Tensor> Forward,
    Func<Tensor, Tensor, Engine, Tensor> Backward,
    Func<float, float> Oracle,
    UnaryScalarBackward<float> ScalarBackward,
    Func<double, double> ForwardF64,
    UnaryScalarBackward<double> BackwardF64)
{
    public override string ToString() => Name;
}

public static class OperatorCases
{
    private const float Alpha = 1.5f, LinearOffset = 0.25f;      // QuickGeGlu / QuickGelu, not the defaults 1.702 / 0
    private const float GateCap = 3f, LinearCap = 2f;           // SiTuGlu, not the defaults 4 / 25: tanh visibly bends

    public static readonly IReadOnlyList<GatedCase> Gated =
    [
        new("SwiGlu", SwiGlu.Apply, SwiGlu.Forward, SwiGlu.Backward,
            (x, w, b, o) => GatedComposite<SwiGlu.Maths>.Forward(default, x, w, b, o),
            SwiGlu.Forward, SwiGlu.Backward, SwiGlu.ForwardF64, SwiGlu.BackwardF64),
        new("GeGlu", GeGlu.Apply, GeGlu.Forward, GeGlu.Backward,
            (x, w, b, o) => GatedComposite<GeGlu.Maths>.Forward(default, x, w, b, o),
            GeGlu.Forward, GeGlu.Backward, GeGlu.ForwardF64, GeGlu.BackwardF64),
        new("GeGluErf", GeGluErf.Apply, GeGluErf.Forward, GeGluErf.Backward,
            (x, w, b, o) => GatedComposite<GeGluErf.Maths>.Forward(default, x, w, b, o),
            GeGluErf.Forward, GeGluErf.Backward, GeGluErf.ForwardF64, GeGluErf.BackwardF64),
        new("ReGlu", ReGlu.Apply, ReGlu.Forward, ReGlu.Backward,
            (x, w, b, o) => GatedComposite<ReGlu.Maths>.Forward(default, x, w, b, o),
            ReGlu.Forward, ReGlu.Backward, ReGlu.ForwardF64, ReGlu.BackwardF64),
        new("SquaredReGlu", SquaredReGlu.Apply, SquaredReGlu.Forward, SquaredReGlu.Backward,
            (x, w, b, o) => GatedComposite<SquaredReGlu.Maths>.Forward(default, x, w, b, o),
            SquaredReGlu.Forward, SquaredReGlu.Backward, SquaredReGlu.ForwardF64, SquaredReGlu.BackwardF64),
        new("QuickGeGlu",
            (x, w, b, c, f, l) => QuickGeGlu.Apply(x, w, b, Alpha, LinearOffset, c, f, l),
            (x, w, b, c, l, e) => QuickGeGlu.Forward(x, w, b, Alpha, LinearOffset, c, l, e),
            (g, x, w, b, c, l, e) => QuickGeGlu.Backward(g, x, w, b, Alpha, LinearOffset, c, l, e),
            (x, w, b, o) => GatedComposite<QuickGeGlu.Maths>.Forward(new QuickGeGlu.Maths(Alpha, LinearOffset), x, w, b, o),
            (a, l) => QuickGeGlu.Forward(a, l, Alpha, LinearOffset),
            (float a, float l, float g, out float da, out float dl) => QuickGeGlu.Backward(a, l, g, Alpha, LinearOffset, out da, out dl),
            (a, l) => QuickGeGlu.ForwardF64(a, l, Alpha, LinearOffset),
            (double a, double l, double g, out double da, out double dl) => QuickGeGlu.BackwardF64(a, l, g, Alpha, LinearOffset, out da, out dl)),
        new("SiTuGlu",
            (x, w, b, c, f, l) => SiTuGlu.Apply(x, w, b, GateCap, LinearCap, c, f, l),
            (x, w, b, c, l, e) => SiTuGlu.Forward(x, w, b, GateCap, LinearCap, c, l, e),
            (g, x, w, b, c, l, e) => SiTuGlu.Backward(g, x, w, b, GateCap, LinearCap, c, l, e),
            (x, w, b, o) => GatedComposite<SiTuGlu.Maths>.Forward(new SiTuGlu.Maths(GateCap, LinearCap), x, w, b, o),
            (a, l) => SiTuGlu.Forward(a, l, GateCap, LinearCap),
            (float a, float l, float g, out float da, out float dl) => SiTuGlu.Backward(a, l, g, GateCap, LinearCap, out da, out dl),
            (a, l) => SiTuGlu.ForwardF64(a, l, GateCap, LinearCap),
            (double a, double l, double g, out double da, out double dl) => SiTuGlu.BackwardF64(a, l, g, GateCap, LinearCap, out da, out dl)),
    ];

    public static readonly IReadOnlyList<UnaryCase> Unary =
    [
        new("Silu", x => Silu.Apply(x), (x, e) => Silu.Forward(x, e), (g, x, e) => Silu.Backward(g, x, e),
            Silu.Forward, Silu.Backward, Silu.ForwardF64, Silu.BackwardF64),
        new("SquaredRelu", x => SquaredRelu.Apply(x), (x, e) => SquaredRelu.Forward(x, e), (g, x, e) => SquaredRelu.Backward(g, x, e),
            SquaredRelu.Forward, SquaredRelu.Backward, SquaredRelu.ForwardF64, SquaredRelu.BackwardF64),
        new("QuickGelu", x => QuickGelu.Apply(x, Alpha), (x, e) => QuickGelu.Forward(x, Alpha, e), (g, x, e) => QuickGelu.Backward(g, x, Alpha, e),
            x => QuickGelu.Forward(x, Alpha),
            (float x, float g, out float dx) => QuickGelu.Backward(x, g, Alpha, out dx),
            x => QuickGelu.ForwardF64(x, Alpha),
            (double x, double g, out double dx) => QuickGelu.BackwardF64(x, g, Alpha, out dx)),
    ];

    public static GatedCase GatedByName(string name) => Gated.Single(c => c.Name == name);

    public static UnaryCase UnaryByName(string name) => Unary.Single(c => c.Name == name);
}
