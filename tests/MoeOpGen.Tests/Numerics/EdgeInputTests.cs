using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>Large, zero, boundary, empty, 3-D and non-finite inputs (docs/numerics.md states the behaviour pinned here).</summary>
public class EdgeInputTests
{
    private static Tensor Row(params float[] gateThenLinear) => tensor(gateThenLinear).reshape(1, gateThenLinear.Length);

    /// <summary>±1e4 and ±90 in fp32: both engines finite, equal to each other and to the fp64 oracle.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void LargeInputsStayFiniteAndAgree(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        float[] big = [1e4f, -1e4f, 90f, -90f, 1f, -1f];
        var pairs = (from a in big from l in big select (a, l)).ToArray();
        var input = tensor(pairs.Select(p => p.a).Concat(pairs.Select(p => p.l)).ToArray()).reshape(1, 2 * pairs.Length);
        var grad = ones(1, pairs.Length);
        var fused = op.Forward(input, null, null, null, GateLayout.Halves, Engine.Auto);
        var back = op.Backward(grad, input, null, null, null, GateLayout.Halves, Engine.Auto).InputGrad;
        Assert.True(fused.isfinite().all().item<bool>(), $"{name}: non-finite forward for large inputs");
        Assert.True(back.isfinite().all().item<bool>(), $"{name}: non-finite backward for large inputs");
        TensorAssert.Close(op.Forward(input, null, null, null, GateLayout.Halves, Engine.Composite), fused, Tolerance.Fp32, $"{name} large forward");
        TensorAssert.Close(op.Backward(grad, input, null, null, null, GateLayout.Halves, Engine.Composite).InputGrad, back, Tolerance.Fp32, $"{name} large backward");
        var oracle = tensor(pairs.Select(p => (float)op.ForwardF64(p.a, p.l)).ToArray()).reshape(1, pairs.Length);
        TensorAssert.Close(oracle, fused, Tolerance.Fp32, $"{name} large forward vs fp64 oracle");
    }

    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void ZerosGiveZeroOutputAndEngineAgreedGradients(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        var input = zeros(3, 8);
        var grad = ones(3, 4);
        Assert.True(op.Forward(input, null, null, null, GateLayout.Halves, Engine.Auto).eq(0).all().item<bool>(), $"{name}(0, 0) must be 0");
        TensorAssert.Close(op.Backward(grad, input, null, null, null, GateLayout.Halves, Engine.Composite).InputGrad,
                           op.Backward(grad, input, null, null, null, GateLayout.Halves, Engine.Auto).InputGrad, Tolerance.Fp32, $"{name} grad at 0");
    }

    /// <summary>At exactly ±c the gradient passes (equals the unclamped one); just beyond, it is zero; c = 0 clamps.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void ClampBoundaryPassesAndBeyondIsZero(string name)
    {
        var op = OperatorCases.GatedByName(name);
        const float c = 1.5f, beyond = 1.5001f;
        using var scope = NewDisposeScope();
        // columns: (c, c), (c, −c), (beyond, 0.5), (0.5, beyond), (0.5, −beyond)
        var input = Row(c, c, beyond, 0.5f, 0.5f, /* linear */ c, -c, 0.5f, beyond, -beyond);
        var grad = ones(1, 5);
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            var clamped = op.Backward(grad, input, null, null, c, GateLayout.Halves, engine).InputGrad.data<float>().ToArray();
            var free = op.Backward(grad, input, null, null, null, GateLayout.Halves, engine).InputGrad.data<float>().ToArray();
            foreach (int i in new[] { 0, 1, 5, 6 }) Assert.Equal(free[i], clamped[i]);          // the boundary passes
            Assert.NotEqual(0f, clamped[0]);
            Assert.Equal(0f, clamped[2]);                                                         // gate beyond c
            Assert.Equal(0f, clamped[8]);                                                         // linear beyond +c
            Assert.Equal(0f, clamped[9]);                                                         // linear beyond −c
            op.ScalarBackward(c, 0.5f, 1f, out _, out var partner);                               // the unclipped partner passes, at the clipped gate
            Assert.True(Math.Abs(partner - clamped[7]) <= 1e-6 + 1e-5 * Math.Abs(partner), $"{name} {engine}: partner {clamped[7]}, expected {partner}");
        }

        // clampValue 0 clamps: every positive gate and every non-zero linear is clipped, its gradient zero.
        var x = GatedInputs.Create(Variants.ByName("plain"), ScalarType.Float32, seed: 31).Input;
        var g0 = op.Backward(ones(5, 12), x, null, null, 0.0, GateLayout.Halves, Engine.Auto).InputGrad;
        Assert.True(g0.narrow(1, 0, 12).masked_select(x.narrow(1, 0, 12).gt(0)).eq(0).all().item<bool>());
        Assert.True(g0.narrow(1, 12, 12).eq(0).all().item<bool>());
        var y0 = op.Forward(x, null, null, 0.0, GateLayout.Halves, Engine.Auto);
        var expected = op.Forward(cat([x.narrow(1, 0, 12).clamp_max(0), zeros(5, 12)], 1), null, null, null, GateLayout.Halves, Engine.Auto);
        TensorAssert.Close(expected, y0, Tolerance.Fp32, $"{name} clampValue 0 forward");
    }

    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void EmptyInputGivesEmptyResultsAndZeroBiasGrad(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        var input = zeros(0, 8);
        var weights = zeros(0, 1);
        var bias = ones(8);
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            Assert.Equal([0L, 4L], op.Forward(input, weights, bias, 1.0, GateLayout.Halves, engine).shape);
            var (dx, dw, db) = op.Backward(zeros(0, 4), input, weights, bias, 1.0, GateLayout.Halves, engine);
            Assert.Equal([0L, 8L], dx.shape);
            Assert.Equal([0L, 1L], dw!.shape);
            Assert.Equal([8L], db!.shape);
            Assert.True(db.eq(0).all().item<bool>());
        }
        var leaf = input.clone().requires_grad_(true);
        op.Apply(leaf, null, null, null, false, GateLayout.Halves).sum().backward();
        BackwardFailures.ThrowIfAny();
        Assert.Equal([0L, 8L], leaf.grad!.shape);
    }

    /// <summary>A 3-D input [2, 3, 2H] is the 2-D [6, 2H] computation, reshaped.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void ThreeDimensionalInputIsRowsReshaped(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        var v = Variants.ByName("weighted+bias+clamp");
        var x = GatedInputs.Create(v, ScalarType.Float32, rows: 6, hidden: 4, seed: 37);
        var x3 = x.Input.reshape(2, 3, 8);
        var w3 = x.Weights!.reshape(2, 3, 1);
        var g3 = x.UpstreamGrad.reshape(2, 3, 4);
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            var y3 = op.Forward(x3, w3, x.Bias, v.Clamp, GateLayout.Halves, engine);
            Assert.Equal([2L, 3L, 4L], y3.shape);
            TensorAssert.BitEqual(op.Forward(x.Input, x.Weights, x.Bias, v.Clamp, GateLayout.Halves, engine).reshape(2, 3, 4), y3, $"{name} 3-D forward");
            var b3 = op.Backward(g3, x3, w3, x.Bias, v.Clamp, GateLayout.Halves, engine);
            var b2 = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, v.Clamp, GateLayout.Halves, engine);
            TensorAssert.BitEqual(b2.InputGrad.reshape(2, 3, 8), b3.InputGrad, $"{name} 3-D input grad");
            TensorAssert.BitEqual(b2.WeightsGrad!.reshape(2, 3, 1), b3.WeightsGrad!, $"{name} 3-D weights grad");
            TensorAssert.Close(b2.BiasGrad!, b3.BiasGrad!, Tolerance.Fp32, $"{name} 3-D bias grad");
        }
    }

    /// <summary>
    /// NaN propagates to the output and both gradients of its element, except through a ReLU-style gate
    /// (ReGlu, SquaredReGlu): their C# body <c>gate &gt; 0 ? gate : 0</c> maps a NaN gate to 0, so f = 0 and the
    /// gradients are 0 (a NaN linear still propagates). Both engines agree.
    /// </summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void NaNPropagatesExceptThroughReluGates(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        var input = Row(float.NaN, 0.7f, /* linear */ 0.8f, float.NaN);
        bool reluGate = name is "ReGlu" or "SquaredReGlu";
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            var y = op.Forward(input, null, null, null, GateLayout.Halves, engine).data<float>().ToArray();
            var dx = op.Backward(ones(1, 2), input, null, null, null, GateLayout.Halves, engine).InputGrad.data<float>().ToArray();
            Assert.Equal(reluGate, !float.IsNaN(y[0]));
            if (reluGate) { Assert.Equal(0f, y[0]); Assert.Equal(0f, dx[0]); Assert.Equal(0f, dx[2]); }
            else { Assert.True(float.IsNaN(dx[0]) && float.IsNaN(dx[2]), $"{name} {engine}: NaN gate must give NaN gradients"); }
            Assert.True(float.IsNaN(y[1]), $"{name} {engine}: NaN linear must give a NaN output");
            Assert.True(float.IsNaN(dx[1]), $"{name} {engine}: NaN linear must give a NaN gate gradient");
            var yc = op.Forward(input, null, null, 1.0, GateLayout.Halves, engine).data<float>().ToArray();
            Assert.True(float.IsNaN(yc[1]), $"{name} {engine}: a clamp does not clip a NaN linear part");
            Assert.Equal(reluGate, !float.IsNaN(yc[0]));
        }
    }

    /// <summary>
    /// SwiGlu with infinities: silu(+∞)·1 = +∞ with dLinear = +∞ and dGate = NaN (σ(a)(1 + a(1 − σ(a))) is 1·(1 + ∞·0));
    /// silu(−∞) = −∞·0 = NaN. A clamp turns +∞ gates into c, with a finite output and a zero gradient.
    /// </summary>
    [Fact]
    public void SwiGluInfinities()
    {
        using var scope = NewDisposeScope();
        var input = Row(float.PositiveInfinity, float.NegativeInfinity, /* linear */ 1f, 1f);
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            var y = SwiGlu.Forward(input, engine: engine).data<float>().ToArray();
            var dx = SwiGlu.Backward(ones(1, 2), input, engine: engine).InputGrad.data<float>().ToArray();
            Assert.Equal(float.PositiveInfinity, y[0]);
            Assert.True(float.IsNaN(y[1]), $"{engine}: silu(-inf) is NaN");
            Assert.True(float.IsNaN(dx[0]), $"{engine}: dGate at +inf is NaN");
            Assert.Equal(float.PositiveInfinity, dx[2]);
            var yc = SwiGlu.Forward(input, clampValue: 2.0, engine: engine).data<float>().ToArray();
            var dxc = SwiGlu.Backward(ones(1, 2), input, clampValue: 2.0, engine: engine).InputGrad.data<float>().ToArray();
            Assert.Equal(SwiGlu.Forward(2f, 1f), yc[0], 5);
            Assert.Equal(0f, dxc[0]);
        }
    }
}
