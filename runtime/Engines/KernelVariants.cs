using System.Collections.Concurrent;
using MoeOpGen.Cuda;

namespace MoeOpGen.Engines;

/// <summary>
/// The compile unit of one entry point: the operator's module with <c>-DMOG_KERNEL_&lt;name&gt;</c>, so NVRTC
/// instantiates only that kernel (a whole gated module, 97 template instantiations, takes NVRTC tens of
/// seconds). Each unit is its own content-addressed cache entry. Instances are memoised, so the kernel cache
/// sees the same <see cref="CudaSource"/> object on every call and never rehashes the source.
/// </summary>
internal static class KernelVariants
{
    private static readonly ConcurrentDictionary<(CudaSource Module, string Kernel), CudaSource> s_units = new();

    public static CudaFunction Get(CudaSource module, string kernel, int device)
    {
        var unit = s_units.GetOrAdd((module, kernel), static key => key.Module with
        {
            Options = [.. key.Module.Options, "-DMOG_KERNEL_" + key.Kernel],
        });
        return CudaKernels.GetFunction(unit, kernel, device);
    }
}
