using System;
using MoeOpGen.Cuda;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using MoeOpGen.Tests.Golden;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// An element-wise kernel over 2³¹ packs or more is launched in chunks along <c>blockIdx.y</c> so that its index
/// arithmetic stays 32-bit inside a chunk (CudaLaunchShapes). A bf16 Silu over 2³⁴ + 40 elements (2³¹ + 5 packs,
/// 32 GiB in and 32 GiB out) crosses the first chunk boundary; elements around it and at the end are checked
/// against the CPU kernel.
/// </summary>
[Trait("Category", "Gpu")]
public class LargeTensorCudaTests
{
    private const long RequiredBytes = 66L << 30;

    [Fact]
    public void UnaryKernelsCoverTensorsOfTwoToThe31PacksAndMore()
    {
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device (or TorchSharp without CUDA).");
        var (_, total) = CudaKernels.MemoryInfo(0);
        Assert.SkipWhen((long)total < RequiredBytes, $"Needs about {RequiredBytes >> 30} GiB of GPU memory; the device has {total >> 30} GiB.");
        using var scope = NewDisposeScope();
        const long packs = (1L << 31) + 5, count = packs * 8;
        long chunk = CudaLaunchShapes.UnaryGrid(packs).X * (long)CudaLaunchShapes.PackBlock * 8;   // elements in the first chunk
        var input = empty(count, ScalarType.BFloat16, CUDA);
        input.narrow(0, 0, 1L << 20).copy_(randn(1L << 20, ScalarType.BFloat16, CUDA) * 4);
        // The same values repeat in 1 MiB-element tiles, so every checked window has varied data.
        for (long at = 1L << 20; at < count; at += 1L << 20)
            input.narrow(0, at, Math.Min(1L << 20, count - at)).copy_(input.narrow(0, 0, Math.Min(1L << 20, count - at)));
        var output = Silu.Forward(input);

        foreach (long start in new[] { 0L, chunk - 64, chunk + 1000, count - 128 })
        {
            var gpu = output.narrow(0, start, 128).cpu();
            var cpu = Silu.Forward(input.narrow(0, start, 128).cpu());
            TensorAssert.Close(cpu, gpu, $"elements {start}..{start + 127} (first chunk ends at {chunk})");
        }
    }
}
