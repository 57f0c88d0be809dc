using System;
using System.Linq;
using MoeOpGen.Tests.Numerics;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests;

/// <summary>
/// Tensor comparisons for every test folder, with messages that say where and by how much two tensors differ.
/// Values are compared in fp64 on the tensors' own device; only the verdict and the reported elements are read back.
/// </summary>
public static class TensorAssert
{
    /// <summary>Same shape, same dtype and the same values (NaN equal to NaN, +0 equal to −0).</summary>
    public static void Equal(Tensor expected, Tensor actual, string what)
    {
        SameShape(expected, actual, what);
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}.");
        if (expected.numel() == 0)
            return;
        using var scope = NewDisposeScope();
        var e = expected.detach().to(actual.device);
        var a = actual.detach();
        var differ = e.ne(a);
        if (e.is_floating_point())
            differ = differ.logical_and(e.isnan().logical_and(a.isnan()).logical_not());
        long count = differ.count_nonzero().item<long>();
        if (count == 0)
            return;
        long first = differ.reshape(-1).nonzero()[0, 0].item<long>();
        Assert.Fail($"{what}: {count} of {e.numel()} elements differ; first at flat index {first}: " +
                    $"{Value(a, first)} vs expected {Value(e, first)}.");
    }

    /// <summary>Bit-for-bit equality (same shape, dtype and bytes).</summary>
    public static void BitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        SameShape(expected, actual, what);
        Assert.True(expected.bytes.ToArray().AsSpan().SequenceEqual(actual.bytes.ToArray()), $"{what}: bytes differ");
    }

    /// <summary>
    /// <c>|actual − expected| ≤ atol + rtol·|expected|</c> element-wise in fp64; equal values (infinities included)
    /// and NaN against NaN count as close, so the check also pins where non-finite values appear. The message gives
    /// the number of offending elements and the worst one.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        SameShape(expected, actual, what);
        if (expected.numel() == 0)
            return;
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64).to(actual.device).reshape(-1);
        var a = actual.detach().to(ScalarType.Float64).reshape(-1);
        var close = a.eq(e).logical_or(e.isnan().logical_and(a.isnan()));
        // How far beyond the bound each element is; close elements are at -1, a NaN against a number at +∞.
        var excess = ((a - e).abs() - (atol + rtol * e.abs())).masked_fill(close, -1.0).nan_to_num(nan: double.PositiveInfinity);
        long worst = excess.argmax().item<long>();
        if (excess[worst].item<double>() <= 0)
            return;
        long count = excess.gt(0).count_nonzero().item<long>();
        Assert.Fail($"{what}: {count} of {e.numel()} elements beyond rtol {rtol:G3}, atol {atol:G3}; worst at flat index {worst}: " +
                    $"{a[worst].item<double>():R} vs expected {e[worst].item<double>():R}.");
    }

    /// <summary><see cref="Close(Tensor, Tensor, double, double, string)"/> with a <see cref="Tolerance"/>.</summary>
    public static void Close(Tensor expected, Tensor actual, Tolerance tol, string what)
        => Close(expected, actual, tol.Rtol, tol.Atol, what);

    /// <summary><see cref="Close(Tensor, Tensor, double, double, string)"/> with the DESIGN.md tolerance of the
    /// expected tensor's dtype (<see cref="DesignTolerance"/>).</summary>
    public static void Close(Tensor expected, Tensor actual, string what)
    {
        var (rtol, atol) = DesignTolerance.For(expected.dtype);
        Close(expected, actual, rtol, atol, what);
    }

    private static void SameShape(Tensor expected, Tensor actual, string what)
        => Assert.True(expected.shape.AsSpan().SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].");

    private static string Value(Tensor t, long flatIndex) => t.reshape(-1)[flatIndex].to(ScalarType.Float64).item<double>().ToString("R");
}

/// <summary>The engine-against-engine tolerances of DESIGN.md for comparisons against the reference's tensors.</summary>
public static class DesignTolerance
{
    public static (double Rtol, double Atol) For(ScalarType dtype)
    {
        // Against the reference's tensors every dtype but the half-precision ones gets fp32's tolerance (fp64 too).
        var tolerance = dtype is ScalarType.Float16 or ScalarType.BFloat16 ? Tolerance.For(dtype) : Tolerance.Fp32;
        return (tolerance.Rtol, tolerance.Atol);
    }
}
