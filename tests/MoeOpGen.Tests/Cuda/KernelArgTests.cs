using System;
using MoeOpGen.Cuda;
using TorchSharp;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>How each argument type is laid out for the driver (the GPU tests check the kernel sees the same).</summary>
public class KernelArgTests
{
    [Fact]
    public void ScalarsKeepTheirWidthAndBits()
    {
        KernelArg i = -5, u = 3_000_000_000u, l = -1L << 40, ul = ulong.MaxValue, f = 1.5f, yes = true, no = false;
        Assert.Equal((KernelArgKind.Int32, -5L), (i.Kind, i.Bits));
        Assert.Equal(KernelArgKind.Int32, u.Kind);
        Assert.Equal(3_000_000_000u, (uint)u.Bits);
        Assert.Equal((KernelArgKind.Int64, -1L << 40), (l.Kind, l.Bits));
        Assert.Equal((KernelArgKind.Int64, -1L), (ul.Kind, ul.Bits));
        Assert.Equal(KernelArgKind.Float32, f.Kind);
        Assert.Equal(1.5f, BitConverter.Int32BitsToSingle((int)f.Bits));
        Assert.Equal((KernelArgKind.Int32, 1L), (yes.Kind, yes.Bits));
        Assert.Equal(0L, no.Bits);
    }

    [Fact]
    public void FloatArraysPassByValueWithOneDummyWhenEmpty()
    {
        KernelArg three = new[] { 1f, 2f, 3f }, empty = Array.Empty<float>();
        Assert.Equal((KernelArgKind.Floats, 3), (three.Kind, three.FloatCount));
        Assert.Equal(1, empty.FloatCount);
        Assert.Throws<ArgumentNullException>(() => { KernelArg _ = (float[])null!; });
    }

    [Fact]
    public void TensorsAndPointers()
    {
        using var x = torch.zeros(2);
        KernelArg tensor = x, none = (torch.Tensor?)null, raw = (IntPtr)0x1000;
        Assert.Equal(KernelArgKind.Tensor, tensor.Kind);
        Assert.Same(x, tensor.Tensor);
        Assert.Equal((KernelArgKind.Pointer, 0L), (none.Kind, none.Bits));
        Assert.Equal((KernelArgKind.Pointer, 0x1000L), (raw.Kind, raw.Bits));
    }

    [Fact]
    public void DefaultFunctionCannotLaunch() =>
        Assert.Throws<InvalidOperationException>(() => default(CudaFunction).Launch(1, 1, 0));
}
