using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>DESIGN.md's tolerance table (engine against engine): |actual − expected| ≤ atol + rtol·|expected|.</summary>
public readonly record struct Tolerance(double Rtol, double Atol)
{
    /// <summary>fp64 on both sides: only evaluation-order differences (torch's kernels vs Math.*) are allowed.</summary>
    public static readonly Tolerance Fp64 = new(1e-10, 1e-12);
    public static readonly Tolerance Fp32 = new(1e-5, 1e-6);
    public static readonly Tolerance Fp16 = new(1e-2, 1e-3);
    public static readonly Tolerance Bf16 = new(2e-2, 1e-3);
    public static readonly Tolerance Fp8Store = new(7e-2, 1e-2);

    public static Tolerance For(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => Fp64,
        ScalarType.Float32 => Fp32,
        ScalarType.Float16 => Fp16,
        ScalarType.BFloat16 => Bf16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no tolerance for this dtype"),
    };
}

public static class TensorAssert
{
    /// <summary>
    /// Element-wise closeness in fp64; equal values (infinities included) and NaN against NaN count as close, so
    /// the check also pins where non-finite values appear. The message names the first offending element.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, Tolerance tol, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64).flatten();
        var a = actual.detach().to(ScalarType.Float64).flatten();
        var ok = (a - e).abs().le(e.abs() * tol.Rtol + tol.Atol) | a.eq(e) | (a.isnan() & e.isnan());
        if (ok.all().item<bool>()) return;
        long i = (~ok).nonzero()[0, 0].item<long>();
        long count = (~ok).sum().item<long>();
        Assert.Fail($"{what}: {count} of {e.numel()} elements differ beyond rtol {tol.Rtol}, atol {tol.Atol}; " +
                    $"first at flat index {i}: actual {a[i].item<double>():R}, expected {e[i].item<double>():R}");
    }

    /// <summary>Bit-for-bit equality (same shape, dtype and bytes).</summary>
    public static void BitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shapes differ");
        Assert.True(expected.bytes.ToArray().AsSpan().SequenceEqual(actual.bytes.ToArray()), $"{what}: bytes differ");
    }
}
