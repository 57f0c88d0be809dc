using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// Gradients of the differentiable Apply (fused kernels inside a TorchSharp autograd function) against TorchSharp's
/// own autograd of GatedComposite.Forward, with a non-trivial upstream gradient; leaf and non-leaf inputs; the FP8
/// input store against full precision.
/// </summary>
public class AutogradTests
{
    private sealed record Grads(Tensor Output, Tensor Input, Tensor? Weights, Tensor? Bias);

    /// <summary>Runs <paramref name="forward"/> on fresh leaves that require grad and backpropagates sum(y · up).</summary>
    private static Grads Differentiate(GatedInputs x, Func<Tensor, Tensor?, Tensor?, Tensor> forward)
    {
        var input = x.Input.detach().clone().requires_grad_(true);
        var weights = x.Weights?.detach().clone().requires_grad_(true);
        var bias = x.Bias?.detach().clone().requires_grad_(true);
        var y = forward(input, weights, bias);
        (y * x.UpstreamGrad).sum().backward();
        BackwardFailures.ThrowIfAny();
        return new Grads(y.detach(), input.grad!, weights?.grad, bias?.grad);
    }

    [Theory]
    [MemberData(nameof(Variants.GatedAutogradMatrix), MemberType = typeof(Variants))]
    public void ApplyGradientsMatchAutogradOfComposite(string name, string variantName, string dtypeName)
    {
        var op = OperatorCases.GatedByName(name);
        var v = Variants.ByName(variantName);
        var dtype = Variants.Dtype(dtypeName);
        var tol = Tolerance.For(dtype);
        using var scope = NewDisposeScope();
        var x = GatedInputs.Create(v, dtype, seed: 11);
        string where = $"{name} {variantName} {dtypeName}";

        var fused = Differentiate(x, (i, w, b) => op.Apply(i, w, b, v.Clamp, false, v.Layout));
        var composite = Differentiate(x, (i, w, b) => op.Composite(i, w, b, new GatedOptions(v.Clamp, false, v.Layout)));

        TensorAssert.Close(composite.Output, fused.Output, tol, $"{where} output");
        TensorAssert.Close(composite.Input, fused.Input, tol, $"{where} input grad");
        if (v.Weights) TensorAssert.Close(composite.Weights!, fused.Weights!, tol, $"{where} weights grad");
        if (v.Bias) TensorAssert.Close(composite.Bias!, fused.Bias!, tol, $"{where} bias grad");
    }

    /// <summary>A non-leaf input (the output of another op) gets its gradient through the chain; a leaf that needs none stays without.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void NonLeafInputAndWeightsOnlyGradients(string name)
    {
        var op = OperatorCases.GatedByName(name);
        var v = Variants.ByName("weighted+bias");
        using var scope = NewDisposeScope();
        var x = GatedInputs.Create(v, ScalarType.Float32, seed: 13);

        var leaf = x.Input.detach().clone().requires_grad_(true);
        var nonLeaf = leaf * 3;
        (op.Apply(nonLeaf, x.Weights, x.Bias, null, false, GateLayout.Halves) * x.UpstreamGrad).sum().backward();
        BackwardFailures.ThrowIfAny();
        var expected = op.Backward(x.UpstreamGrad, nonLeaf.detach(), x.Weights, x.Bias, null, GateLayout.Halves, Engine.Composite);
        TensorAssert.Close(expected.InputGrad * 3, leaf.grad!, Tolerance.Fp32, $"{name} leaf grad through a non-leaf input");

        // Only the weights require grad: the input gets no gradient, the weights get theirs.
        expected = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, null, GateLayout.Halves, Engine.Composite);
        var input = x.Input.detach().clone();
        var weights = x.Weights!.detach().clone().requires_grad_(true);
        (op.Apply(input, weights, x.Bias, null, false, GateLayout.Halves) * x.UpstreamGrad).sum().backward();
        BackwardFailures.ThrowIfAny();
        Assert.Null(input.grad);
        TensorAssert.Close(expected.WeightsGrad!, weights.grad!, Tolerance.Fp32, $"{name} weights grad with a constant input");

        // Autograd off (no_grad): a plain tensor, no graph.
        using (no_grad()) Assert.False(op.Apply(leaf, x.Weights, x.Bias, null, false, GateLayout.Halves).requires_grad);
    }

    /// <summary>
    /// The FP8 store is exactly "backward at the E4M3-rounded input": its gradients equal the full-precision
    /// gradients at x rounded to E4M3 (torch's own cast), to the dtype's tolerance, clamp and bias included (c = 1
    /// is an E4M3 value, so rounding never lifts an input above it; the clamp mask is the full-precision one). Against the unrounded input the error is
    /// bounded in norm by DESIGN.md's fp8 tolerance; element-wise it is not always (see docs/numerics.md).
    /// </summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void Fp8StoreIsBackwardAtTheE4M3RoundedInput(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        foreach (var v in Variants.All.Where(v => v.Fp8))
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16 })
            {
                var x = GatedInputs.Create(v, dtype, seed: 19, scale: 1.0);
                var rounded = x with { Input = x.Input.to(ScalarType.Float32).to(Fp8E4M3.ScalarType).to(ScalarType.Float32).to(dtype) };
                var full = Differentiate(x, (i, w, b) => op.Apply(i, w, b, v.Clamp, false, v.Layout));
                var atRounded = Differentiate(rounded, (i, w, b) => op.Apply(i, w, b, v.Clamp, false, v.Layout));
                var fp8 = Differentiate(x, (i, w, b) => op.Apply(i, w, b, v.Clamp, true, v.Layout));
                string where = $"{name} {v.Name} {dtype}";
                var tol = Tolerance.For(dtype);
                TensorAssert.Close(full.Output, fp8.Output, tol, $"{where} output (forward is full precision)");
                TensorAssert.Close(atRounded.Input * PassMask(x.Input, v.Clamp), fp8.Input, tol, $"{where} input grad vs backward at rounded input");
                if (v.Weights) TensorAssert.Close(atRounded.Weights!, fp8.Weights!, tol, $"{where} weights grad vs backward at rounded input");
                if (v.Bias) TensorAssert.Close(atRounded.Bias!, fp8.Bias!, tol, $"{where} bias grad vs backward at rounded input");
                AssertNormClose(full.Input, fp8.Input, $"{where} input grad");
                if (v.Weights) AssertNormClose(full.Weights!, fp8.Weights!, $"{where} weights grad");
                if (v.Bias) AssertNormClose(full.Bias!, fp8.Bias!, $"{where} bias grad");
            }
    }

    /// <summary>
    /// Where the clamp lets the gradient pass, judged on the UNROUNDED input (Contracts: the mask comes from full
    /// precision): an input just above c may round down onto c, where the rounded-input reference would pass it.
    /// Halves layout.
    /// </summary>
    private static Tensor PassMask(Tensor input, double? clamp)
    {
        if (clamp is not double c) return ones_like(input);
        long h = input.shape[^1] / 2;
        return cat([input.narrow(-1, 0, h).le(c), input.narrow(-1, h, h).abs().le(c)], -1).to(input.dtype);
    }

    /// <summary>‖fp8 − full‖ ≤ rtol‖full‖ + atol·√n with DESIGN.md's fp8 rtol 7e-2, atol 1e-2.</summary>
    private static void AssertNormClose(Tensor full, Tensor fp8, string what)
    {
        var f = full.to(ScalarType.Float64);
        double err = (fp8.to(ScalarType.Float64) - f).norm().item<double>();
        double bound = Tolerance.Fp8Store.Rtol * f.norm().item<double>() + Tolerance.Fp8Store.Atol * Math.Sqrt(f.numel());
        Assert.True(err <= bound, $"{what}: FP8 store error norm {err:E3} > {bound:E3}");
    }

    /// <summary>Under FP8 store the clamp mask survives: inputs beyond c get exactly zero gradient, as without FP8.</summary>
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void Fp8StoreHonoursTheClampMask(string name)
    {
        var op = OperatorCases.GatedByName(name);
        const double c = 0.75;   // an E4M3 value
        using var scope = NewDisposeScope();
        var x = GatedInputs.Create(Variants.ByName("plain"), ScalarType.Float32, seed: 23, scale: 1.0);
        var grads = Differentiate(x, (i, w, b) => op.Apply(i, w, b, c, true, GateLayout.Halves)).Input;
        var gate = x.Input.narrow(1, 0, 12);
        var linear = x.Input.narrow(1, 12, 12);
        var clipped = cat([gate.gt(c), linear.abs().gt(c)], 1);
        Assert.True(clipped.any().item<bool>(), "the data must clip something");
        Assert.True(grads.masked_select(clipped).eq(0).all().item<bool>(), $"{name}: clipped inputs got a non-zero gradient under FP8 store");
        var rounded = x with { Input = x.Input.to(Fp8E4M3.ScalarType).to(ScalarType.Float32) };
        var atRounded = Differentiate(rounded, (i, w, b) => op.Apply(i, w, b, c, false, GateLayout.Halves)).Input;
        TensorAssert.Close(atRounded * PassMask(x.Input, c), grads, Tolerance.Fp32, $"{name} clamp {c} FP8 vs backward at the rounded input");
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryByDtype), MemberType = typeof(Variants))]
    public void UnaryApplyGradientMatchesAutogradOfComposite(string name, string dtypeName)
    {
        var op = OperatorCases.UnaryByName(name);
        var dtype = Variants.Dtype(dtypeName);
        using var scope = NewDisposeScope();
        var gen = new torch.Generator(29);
        var x = (torch.randn([5, 24], generator: gen) * 2).to(dtype);
        var up = torch.randn([5, 24], generator: gen).to(dtype);
        Tensor Grad(Func<Tensor, Tensor> f)
        {
            var leaf = x.detach().clone().requires_grad_(true);
            (f(leaf) * up).sum().backward();
            BackwardFailures.ThrowIfAny();
            return leaf.grad!;
        }
        TensorAssert.Close(Grad(t => op.Forward(t, Engine.Composite)), Grad(op.Apply), Tolerance.For(dtype), $"{name} {dtypeName} input grad");
    }
}
