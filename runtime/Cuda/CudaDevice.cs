using System;
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
    // One slot per ordinal, created with the first use (the device count is fixed once the driver is initialized).
    // An array rather than a ConcurrentDictionary<int, …>: a framework generic over an int key has no precompiled
    // code, so a new process JIT-compiled that dictionary on its first kernel (docs/gpu.md "First kernel of a process").
    private static Lazy<CudaDevice>[]? s_devices;

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

    /// <summary>The number of CUDA devices (initializes the driver; throws, every time, if it cannot be loaded).</summary>
    public static int Count => Slots.Length;

    /// <summary>Device <paramref name="index"/>, initialized on first use (once, however many threads ask).</summary>
    public static CudaDevice Get(int index)
    {
        var slots = Slots;
        if ((uint)index >= (uint)slots.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"There are {slots.Length} CUDA devices.");
        var lazy = Volatile.Read(ref slots[index]);
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Lazy keeps its exception; a fresh slot lets a later call try again (unless another thread replaced it).
            Interlocked.CompareExchange(ref slots[index], NewSlot(index), lazy);
            throw;
        }
    }

    private static Lazy<CudaDevice>[] Slots => Volatile.Read(ref s_devices) ?? CreateSlots();

    private static Lazy<CudaDevice>[] CreateSlots()
    {
        CudaDriver.EnsureInitialized();
        CudaDriver.Check(cuDeviceGetCount(out int count), nameof(cuDeviceGetCount));
        var slots = new Lazy<CudaDevice>[count];
        for (int i = 0; i < count; i++) slots[i] = NewSlot(i);
        // A thread that lost the race uses the winner's slots, so each device is still created once.
        return Interlocked.CompareExchange(ref s_devices, slots, null) ?? slots;
    }

    private static Lazy<CudaDevice> NewSlot(int index) =>
        new(() => new CudaDevice(index), LazyThreadSafetyMode.ExecutionAndPublication);

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
