using System;
using System.Linq;
using MoeOpGen.Tests.Numerics;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>
/// The facade's assertions over DESIGN.md's tolerances (<see cref="Tolerance"/>): stricter than
/// <see cref="TensorAssert.Close"/> in that the dtypes must match and no NaN may appear in the result.
/// </summary>
internal static class ToleranceAssert
{
    /// <summary>Asserts shape, dtype and values (|actual − expected| ≤ atol + rtol·|expected|); the message names the worst element.</summary>
    public static void AssertClose(this Tolerance tolerance, Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}.");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        var excess = (a - e).abs() - (tolerance.Atol + tolerance.Rtol * e.abs());
        var excessFlat = excess.flatten();
        long worst = excessFlat.argmax().item<long>();
        double worstExcess = excessFlat[worst].item<double>();
        Assert.True(!double.IsNaN(worstExcess) && worstExcess <= 0 && !a.isnan().any().item<bool>(),
            $"{what}: element {worst} is {a.flatten()[worst].item<double>()}, expected {e.flatten()[worst].item<double>()} (rtol {tolerance.Rtol}, atol {tolerance.Atol}).");
    }

    /// <summary>
    /// For results that legitimately differ from a noisy reference (eager bf16 rounds after each operation): each
    /// element must be within tolerance of <paramref name="expected"/> or no farther than it from
    /// <paramref name="exact"/>, and every element must be within tolerance of <paramref name="exact"/>.
    /// </summary>
    public static void AssertCloseOrCloserToExact(this Tolerance tolerance, Tensor expected, Tensor actual, Tensor exact, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}.");
        tolerance.AssertClose(exact.to(actual.dtype), actual, $"{what} (against the exact value rounded to {actual.dtype})");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        var x = exact.detach().to(ScalarType.Float64);
        var fails = ((a - e).abs() > tolerance.Atol + tolerance.Rtol * e.abs()) & ((a - x).abs() > (e - x).abs());
        long failing = fails.sum().item<long>();
        if (failing > 0)
        {
            long first = fails.flatten().nonzero()[0, 0].item<long>();
            Assert.Fail($"{what}: {failing} element(s) outside tolerance of the reference and farther from the exact value than it; element {first} is "
                + $"{a.flatten()[first].item<double>()}, reference {e.flatten()[first].item<double>()}, exact {x.flatten()[first].item<double>()}.");
        }
    }
}
