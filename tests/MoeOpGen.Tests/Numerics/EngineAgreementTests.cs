using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// The fused CPU kernel against the TorchSharp composite, forward and backward (input, weights and bias
/// gradients), for every operator, variant and dtype, with DESIGN.md's tolerance of the dtype; and the fused
/// forward against the user's own scalar Forward(float…) applied element by element.
/// </summary>
public class EngineAgreementTests
{
    [Theory]
    [MemberData(nameof(Variants.GatedExplicitMatrix), MemberType = typeof(Variants))]
    public void GatedFusedCpuMatchesComposite(string name, string variantName, string dtypeName)
    {
        var op = OperatorCases.GatedByName(name);
        var v = Variants.ByName(variantName);
        var dtype = Variants.Dtype(dtypeName);
        var tol = Tolerance.For(dtype);
        using var scope = NewDisposeScope();
        foreach (var (rows, hidden) in new[] { (5L, 12L), (64L, 40L) })
        {
            var x = GatedInputs.Create(v, dtype, rows, hidden);
            string where = $"{name} {variantName} {dtypeName} [{rows}, {2 * hidden}]";

            var fused = op.Forward(x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Auto);
            var composite = op.Forward(x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Composite);
            Assert.Equal(dtype, fused.dtype);
            TensorAssert.Close(composite, fused, tol, $"{where} forward");

            var f = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Auto);
            var c = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Composite);
            Assert.Equal(dtype, f.InputGrad.dtype);
            TensorAssert.Close(c.InputGrad, f.InputGrad, tol, $"{where} input grad");
            Assert.Equal(v.Weights, f.WeightsGrad is not null);
            Assert.Equal(v.Bias, f.BiasGrad is not null);
            if (v.Weights)
            {
                Assert.Equal(x.Weights!.shape, f.WeightsGrad!.shape);
                Assert.Equal(x.Weights.dtype, f.WeightsGrad.dtype);
                TensorAssert.Close(c.WeightsGrad!, f.WeightsGrad, tol, $"{where} weights grad");
            }
            if (v.Bias)
            {
                Assert.Equal(x.Bias!.shape, f.BiasGrad!.shape);
                Assert.Equal(dtype, f.BiasGrad.dtype);
                TensorAssert.Close(c.BiasGrad!, f.BiasGrad, tol, $"{where} bias grad");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryByDtype), MemberType = typeof(Variants))]
    public void UnaryFusedCpuMatchesComposite(string name, string dtypeName)
    {
        var op = OperatorCases.UnaryByName(name);
        var dtype = Variants.Dtype(dtypeName);
        var tol = Tolerance.For(dtype);
        using var scope = NewDisposeScope();
        var gen = new torch.Generator(3);
        foreach (var shape in new long[][] { [5, 24], [64, 80], [2, 3, 7] })
        {
            var x = (torch.randn(shape, generator: gen) * 2).to(dtype);
            var g = torch.randn(shape, generator: gen).to(dtype);
            TensorAssert.Close(op.Forward(x, Engine.Composite), op.Forward(x, Engine.Auto), tol, $"{name} {dtypeName} forward");
            TensorAssert.Close(op.Backward(g, x, Engine.Composite), op.Backward(g, x, Engine.Auto), tol, $"{name} {dtypeName} backward");
        }
    }

    /// <summary>
    /// The fused fp32 forward equals the user's Forward(float…) applied element-wise, with the variants spelled out
    /// as the Contracts section states them: clamp the input (gate min(a, c), linear clip(b, −c, c)), add the bias,
    /// apply f, multiply by the row's weight.
    /// </summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void GatedFusedForwardMatchesScalarOracle(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        foreach (var v in Variants.Explicit)
        {
            var x = GatedInputs.Create(v, ScalarType.Float32, rows: 5, hidden: 12, seed: 7);
            var actual = op.Forward(x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Auto).data<float>().ToArray();
            var input = x.Input.data<float>().ToArray();
            var bias = x.Bias?.data<float>().ToArray();
            var weights = x.Weights?.data<float>().ToArray();
            const int h = 12;
            for (int r = 0; r < 5; r++)
                for (int j = 0; j < h; j++)
                {
                    int ia = v.Layout == GateLayout.Interleaved ? 2 * j : j, ib = v.Layout == GateLayout.Interleaved ? 2 * j + 1 : h + j;
                    float a = input[r * 2 * h + ia], l = input[r * 2 * h + ib];
                    if (v.Clamp is double c)
                    {
                        a = Math.Min(a, (float)c);
                        l = Math.Clamp(l, -(float)c, (float)c);
                    }
                    if (bias is not null) { a += bias[ia]; l += bias[ib]; }
                    float expected = op.Oracle(a, l) * (weights?[r] ?? 1f);
                    float got = actual[r * h + j];
                    Assert.True(Math.Abs(got - expected) <= 1e-6 + 1e-5 * Math.Abs(expected),
                        $"{name} {v.Name} row {r} col {j}: fused {got:R}, oracle {expected:R}");
                }
        }
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryNames), MemberType = typeof(Variants))]
    public void UnaryFusedForwardMatchesScalarOracle(string name)
    {
        var op = OperatorCases.UnaryByName(name);
        using var scope = NewDisposeScope();
        var x = torch.randn([5, 24], generator: new torch.Generator(5)) * 2;
        var input = x.data<float>().ToArray();
        var actual = op.Forward(x, Engine.Auto).data<float>().ToArray();
        for (int i = 0; i < input.Length; i++)
        {
            float expected = op.Oracle(input[i]);
            Assert.True(Math.Abs(actual[i] - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{name}({input[i]:R}): fused {actual[i]:R}, oracle {expected:R}");
        }
    }
}
