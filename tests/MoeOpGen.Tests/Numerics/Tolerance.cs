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
