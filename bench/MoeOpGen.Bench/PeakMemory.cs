using System;
using System.Runtime.InteropServices;
using MoeOpGen.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// Peak device memory of one step, measured with the driver's free-memory query (cuMemGetInfo) around it.
/// </summary>
/// <remarks>
/// <para>TorchSharp 0.107 exposes neither libtorch's allocator statistics nor <c>empty_cache</c>, and the C++
/// allocator API (virtual methods behind <c>c10::cuda::CUDACachingAllocator::get()</c>) has no stable C entry
/// point, so the driver is asked instead. The caching allocator keeps every segment it reserves, so the drop of
/// free memory across a step is what the step newly reserved, which is its peak of live allocations (rounded up
/// to 2 MiB per large block) provided the cache held no free segment before the step.</para>
/// <para>To empty the cache first, the probe asks libtorch for more memory than the device has: the allocator
/// then releases every cached segment that holds no live tensor before giving up (its out-of-memory path), and
/// the request fails with an exception that is caught here. Segments of live tensors stay; the inputs of a case
/// are large tensors with a segment each, so none of their free space is left for the step to reuse.</para>
/// <para>Includes what the step leaves behind (the leaf's <c>.grad</c>), as the peers' <c>max_memory_allocated</c>
/// does. Reports the JSON field <c>peak_mem_bytes</c>; on the CPU it is null.</para>
/// </remarks>
internal static class PeakMemory
{
    public const string Method =
        "driver free memory (cuMemGetInfo) before minus after one step, after forcing libtorch's caching allocator to "
        + "release its free segments (an over-sized allocation that fails); includes tensors the step leaves (.grad); "
        + "rounded up to 2 MiB blocks";

    /// <summary>The step's new reservations in bytes, or null on the CPU or if the probe failed.</summary>
    public static long? Measure(BenchDevice device, Action step, Action? before = null)
    {
        if (!device.IsCuda) return null;
        before?.Invoke();
        ulong freeBefore = FreeWithEmptyCache(device);
        using (var scope = NewDisposeScope())
        {
            step();
            ulong freeAfter = Free(device);
            return freeBefore >= freeAfter ? (long)(freeBefore - freeAfter) : 0;
        }
    }

    /// <summary>The driver's free memory once unreachable tensor wrappers are finalized, libtorch's caching allocator
    /// holds no free segment and the queued work is done: the baseline of a measurement.</summary>
    internal static ulong FreeWithEmptyCache(BenchDevice device)
    {
        StepTimer.CollectGarbage();
        ReleaseCachedSegments(device);
        return Free(device);
    }

    /// <summary>The driver's free memory once the queued work is done.</summary>
    internal static ulong Free(BenchDevice device)
    {
        device.Synchronize();
        return CudaKernels.MemoryInfo(0).Free;
    }

    private static void ReleaseCachedSegments(BenchDevice device)
    {
        var (_, total) = CudaKernels.MemoryInfo(0);
        try
        {
            using var tooLarge = empty([(long)(total / 2) * 3], ScalarType.Byte, device.Device);   // 1.5 × the device
        }
        catch (ExternalException)
        {
            // Expected: libtorch's "CUDA out of memory", after it released its free cached segments.
        }
        catch (InvalidOperationException)
        {
            // Some TorchSharp builds surface the native error as this type; the release happened all the same.
        }
    }
}
