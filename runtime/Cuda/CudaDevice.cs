using System;
using System.Collections.Concurrent;
using System.Threading;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>
/// One GPU as the driver API sees it, with its primary context: the context libtorch uses, so kernels loaded
/// here run directly on TorchSharp tensor memory. The context is retained once per device and never released
/// (libtorch keeps it for the life of the process too).
/// </summary>
internal sealed class CudaDevice
{
    private static readonly ConcurrentDictionary<int, Lazy<CudaDevice>> s_devices = new();

    private CudaDevice(int index)
    {
        Index = index;
        CudaDriver.Check(cuDeviceGet(out int handle, index), nameof(cuDeviceGet));
        Handle = handle;
        CudaDriver.Check(cuDevicePrimaryCtxRetain(out IntPtr context, handle), nameof(cuDevicePrimaryCtxRetain));
        PrimaryContext = context;
        ComputeCapability = Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10
                          + Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        MultiprocessorCount = Attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        MaxSharedMemoryPerBlockOptIn = Attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    }

    /// <summary>The CUDA device ordinal (as in <c>cuda:N</c>).</summary>
    public int Index { get; }

    /// <summary>The driver's <c>CUdevice</c>.</summary>
    public int Handle { get; }

    /// <summary>The retained primary context.</summary>
    public IntPtr PrimaryContext { get; }

    /// <summary>major × 10 + minor, e.g. 90 for an H100.</summary>
    public int ComputeCapability { get; }

    public int MultiprocessorCount { get; }

    /// <summary>The most shared memory one block may use after opting in with <c>cuFuncSetAttribute</c>.</summary>
    public int MaxSharedMemoryPerBlockOptIn { get; }

    /// <summary>The number of CUDA devices (initializes the driver; throws if it cannot be loaded).</summary>
    public static int Count
    {
        get
        {
            CudaDriver.EnsureInitialized();
            CudaDriver.Check(cuDeviceGetCount(out int count), nameof(cuDeviceGetCount));
            return count;
        }
    }

    /// <summary>Device <paramref name="index"/>, initialized on first use.</summary>
    public static CudaDevice Get(int index)
    {
        if (s_devices.TryGetValue(index, out var known)) return known.Value;
        int count = Count;
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"There are {count} CUDA devices.");
        var lazy = s_devices.GetOrAdd(index, i => new Lazy<CudaDevice>(() => new CudaDevice(i), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            s_devices.TryRemove(new(index, lazy));
            throw;
        }
    }

    /// <summary>
    /// Makes the primary context current on the calling thread. Needed before every driver call that uses a
    /// context: libtorch runs backward on its own worker thread, where no context is current.
    /// </summary>
    public void MakeCurrent()
    {
        CudaDriver.Check(cuCtxGetCurrent(out IntPtr current), nameof(cuCtxGetCurrent));
        if (current != PrimaryContext) CudaDriver.Check(cuCtxSetCurrent(PrimaryContext), nameof(cuCtxSetCurrent));
    }

    private int Attribute(int attribute)
    {
        CudaDriver.Check(cuDeviceGetAttribute(out int value, attribute, Handle), nameof(cuDeviceGetAttribute));
        return value;
    }
}
