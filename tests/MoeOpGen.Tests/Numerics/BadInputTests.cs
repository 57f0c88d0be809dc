using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>Every rejected argument is an ArgumentException naming it, on every entry point, and the next valid call works.</summary>
public class BadInputTests
{
    private sealed record BadCall(string Param, Tensor Input, Tensor? Weights = null, Tensor? Bias = null, double? Clamp = null, Tensor? Grad = null);

    private static IEnumerable<BadCall> BadCalls()
    {
        var good = randn(5, 8);
        yield return new("input", randint(0, 3, [5, 8], dtype: ScalarType.Int32));
        yield return new("input", randn(5, 7));
        yield return new("input", randn(8, 5).t());                       // [5, 8] but not contiguous
        yield return new("weights", good, Weights: ones(5));              // [N] instead of [N, 1]
        yield return new("bias", good, Bias: ones(6));
        yield return new("bias", good, Bias: ones(8, dtype: ScalarType.Float64));
        yield return new("clampValue", good, Clamp: -1.0);
        yield return new("clampValue", good, Clamp: double.NaN);
        yield return new("grad", good, Grad: ones(5, 8));
        yield return new("grad", good, Grad: ones(5, 4, dtype: ScalarType.Float64));
    }

    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void GatedRejectsBadArgumentsByName(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        foreach (var bad in BadCalls())
        {
            string what = $"{name} bad {bad.Param} [{string.Join(", ", bad.Input.shape)}] {bad.Input.dtype}";
            if (bad.Grad is null)
            {
                AssertParam(bad.Param, () => op.Apply(bad.Input, bad.Weights, bad.Bias, bad.Clamp, false, GateLayout.Halves), what + " Apply");
                foreach (var engine in new[] { Engine.Auto, Engine.Composite })
                    AssertParam(bad.Param, () => op.Forward(bad.Input, bad.Weights, bad.Bias, bad.Clamp, GateLayout.Halves, engine), $"{what} Forward {engine}");
            }
            foreach (var engine in new[] { Engine.Auto, Engine.Composite })
                AssertParam(bad.Param, () => op.Backward(bad.Grad ?? ones(5, 4), bad.Input, bad.Weights, bad.Bias, bad.Clamp, GateLayout.Halves, engine), $"{what} Backward {engine}");

            // The failed call left nothing behind: a valid call still works.
            var x = randn(5, 8).requires_grad_(true);
            op.Apply(x, null, null, null, false, GateLayout.Halves).sum().backward();
            BackwardFailures.ThrowIfAny();
            Assert.NotNull(x.grad);
        }
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryNames), MemberType = typeof(Variants))]
    public void UnaryRejectsBadArgumentsByName(string name)
    {
        var op = OperatorCases.UnaryByName(name);
        using var scope = NewDisposeScope();
        var ints = randint(0, 3, [5, 8], dtype: ScalarType.Int32);
        var strided = randn(8, 5).t();
        foreach (var bad in new[] { ints, strided })
        {
            AssertParam("input", () => op.Apply(bad), $"{name} Apply");
            AssertParam("input", () => op.Forward(bad, Engine.Auto), $"{name} Forward");
            AssertParam("input", () => op.Backward(ones(5, 8), bad, Engine.Auto), $"{name} Backward");
        }
        AssertParam("grad", () => op.Backward(ones(5, 7), randn(5, 8), Engine.Auto), $"{name} Backward grad shape");
        AssertParam("grad", () => op.Backward(ones(5, 8, dtype: ScalarType.Float64), randn(5, 8), Engine.Auto), $"{name} Backward grad dtype");
        Assert.Equal([5L, 8L], op.Forward(randn(5, 8), Engine.Auto).shape);
    }

    private static void AssertParam(string param, Action call, string what)
    {
        var ex = Record.Exception(call);
        Assert.True(ex is ArgumentException, $"{what}: expected ArgumentException({param}), got {ex?.GetType().Name ?? "no exception"}: {ex?.Message}");
        Assert.True(((ArgumentException)ex!).ParamName == param, $"{what}: ParamName '{((ArgumentException)ex).ParamName}', expected '{param}' ({ex.Message})");
    }
}
