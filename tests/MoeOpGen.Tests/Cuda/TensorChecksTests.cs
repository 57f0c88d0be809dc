using System;
using MoeOpGen.Cuda;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Cuda;

/// <summary>The checks on CPU tensors (the device check only needs a non-CUDA tensor to fail).</summary>
public class TensorChecksTests
{
    [Fact]
    public void RequireCudaRejectsACpuTensorNamingIt()
    {
        using var x = torch.zeros(4);
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequireCuda(x, "input"));
        Assert.Equal("input", error.ParamName);
        Assert.Contains("input must be a CUDA tensor", error.Message);
    }

    [Fact]
    public void NullTensorIsAnArgumentNullErrorNamingIt() =>
        Assert.Equal("weights", Assert.Throws<ArgumentNullException>(() => TensorChecks.RequireContiguous(null!, "weights")).ParamName);

    [Fact]
    public void RequireContiguousRejectsATransposeAndAcceptsItsCopy()
    {
        using var x = torch.zeros(3, 4);
        using var t = x.t();
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequireContiguous(t, "grad"));
        Assert.Equal("grad", error.ParamName);
        Assert.Contains("strides [1, 4]", error.Message);
        using var c = t.contiguous();
        TensorChecks.RequireContiguous(c, "grad");
    }

    [Fact]
    public void RequireDtypeNamesBothTypes()
    {
        using var x = torch.zeros(2, dtype: ScalarType.Float16);
        TensorChecks.RequireDtype(x, ScalarType.Float16, "x");
        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequireDtype(x, ScalarType.Float32, "x"));
        Assert.Contains("Float32", error.Message);
        Assert.Contains("Float16", error.Message);
    }

    [Fact]
    public void RequireShapeComparesEveryDimension()
    {
        using var x = torch.zeros(2, 6);
        TensorChecks.RequireShape(x, [2, 6], "x");
        Assert.Throws<ArgumentException>(() => TensorChecks.RequireShape(x, [2, 3], "x"));
        Assert.Throws<ArgumentException>(() => TensorChecks.RequireShape(x, [2, 6, 1], "x"));
    }

    [Fact]
    public void RequireSameDeviceAcceptsTwoCpuTensors()
    {
        using var a = torch.zeros(1);
        using var b = torch.zeros(1);
        TensorChecks.RequireSameDevice(a, b, "a", "b");
    }

    [Fact]
    public void AlignmentFollowsTheViewsStorageOffset()
    {
        // libtorch's CPU allocator aligns storage to at least 64 bytes.
        using var x = torch.zeros(64, dtype: ScalarType.Float32);
        Assert.True(TensorChecks.Is16ByteAligned(x));
        using var offsetBy4Bytes = x[TensorIndex.Slice(1)];
        using var offsetBy16Bytes = x[TensorIndex.Slice(4)];
        Assert.False(TensorChecks.Is16ByteAligned(offsetBy4Bytes));
        Assert.True(TensorChecks.IsAligned(offsetBy4Bytes, 4));
        Assert.True(TensorChecks.Is16ByteAligned(offsetBy16Bytes));

        var error = Assert.Throws<ArgumentException>(() => TensorChecks.RequireAligned(offsetBy4Bytes, 16, "linear"));
        Assert.Equal("linear", error.ParamName);
        Assert.Contains("storage offset 1", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorChecks.IsAligned(x, 12));
    }
}
