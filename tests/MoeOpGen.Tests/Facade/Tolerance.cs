using System;
using System.Linq;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>DESIGN.md's tolerances: |actual − expected| ≤ atol + rtol·|expected|, element-wise.</summary>
internal readonly record struct Tolerance(double Rtol, double Atol)
{
    public static readonly Tolerance Fp32 = new(1e-5, 1e-6);
    public static readonly Tolerance Bf16 = new(2e-2, 1e-3);
    public static readonly Tolerance Fp8Store = new(7e-2, 1e-2);

    /// <summary>Asserts shape, dtype and values; the message names the worst element.</summary>
    public void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}.");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        var excess = (a - e).abs() - (Atol + Rtol * e.abs());
        var excessFlat = excess.flatten();
        long worst = excessFlat.argmax().item<long>();
        double worstExcess = excessFlat[worst].item<double>();
        Assert.True(!double.IsNaN(worstExcess) && worstExcess <= 0 && !a.isnan().any().item<bool>(),
            $"{what}: element {worst} is {a.flatten()[worst].item<double>()}, expected {e.flatten()[worst].item<double>()} (rtol {Rtol}, atol {Atol}).");
    }

    /// <summary>
    /// For results that legitimately differ from a noisy reference (eager bf16 rounds after each operation): each
    /// element must be within tolerance of <paramref name="expected"/> or no farther than it from
    /// <paramref name="exact"/>, and every element must be within tolerance of <paramref name="exact"/>.
    /// </summary>
    public void AssertCloseOrCloserToExact(Tensor expected, Tensor actual, Tensor exact, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}.");
        AssertClose(exact.to(actual.dtype), actual, $"{what} (against the exact value rounded to {actual.dtype})");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        var x = exact.detach().to(ScalarType.Float64);
        var fails = ((a - e).abs() > Atol + Rtol * e.abs()) & ((a - x).abs() > (e - x).abs());
        long failing = fails.sum().item<long>();
        if (failing > 0)
        {
            long first = fails.flatten().nonzero()[0, 0].item<long>();
            Assert.Fail($"{what}: {failing} element(s) outside tolerance of the reference and farther from the exact value than it; element {first} is "
                + $"{a.flatten()[first].item<double>()}, reference {e.flatten()[first].item<double>()}, exact {x.flatten()[first].item<double>()}.");
        }
    }
}
