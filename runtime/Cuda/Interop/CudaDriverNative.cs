using System;
using System.Runtime.InteropServices;

namespace MoeOpGen.Cuda.Interop;

/// <summary>
/// Source-generated imports of the CUDA driver API (<c>cuda.h</c>). Every function returns a <c>CUresult</c>;
/// call them through <see cref="CudaDriver"/>, which checks it. Where <c>cuda.h</c> maps a name to a versioned
/// symbol (<c>#define cuMemGetInfo cuMemGetInfo_v2</c>), the versioned symbol is imported: the unversioned one is
/// the old 32-bit ABI. <c>cuLaunchKernel</c> and <c>cuEventRecord</c> are the plain (legacy default stream)
/// symbols, not the <c>_ptsz</c> per-thread ones, because TorchSharp issues its work on the legacy stream.
/// </summary>
internal static unsafe partial class CudaDriverNative
{
    private const string Lib = CudaLibraries.DriverImportName;

    static CudaDriverNative() => CudaLibraries.EnsureResolverRegistered();

    public const int CUDA_SUCCESS = 0;
    public const int CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;
    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public const int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public const int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
    public const int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    public const uint CU_EVENT_DEFAULT = 0;
    public const int CU_MODULE_EAGER_LOADING = 1;
    public const int CU_MODULE_LAZY_LOADING = 2;

    [LibraryImport(Lib)] public static partial int cuInit(uint flags);
    [LibraryImport(Lib)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);
    [LibraryImport(Lib)] public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Lib)] public static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Lib)] public static partial int cuCtxGetCurrent(out IntPtr context);
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] public static partial int cuMemGetInfo(out nuint free, out nuint total);
    [LibraryImport(Lib)] public static partial int cuModuleLoadData(out IntPtr module, void* image);
    /// <summary>CUDA 11.7+: whether modules load eagerly or lazily (<c>CUDA_MODULE_LOADING</c>).</summary>
    [LibraryImport(Lib)] public static partial int cuModuleGetLoadingMode(out int mode);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);
    [LibraryImport(Lib)] public static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);
    [LibraryImport(Lib)] public static partial int cuFuncGetAttribute(out int value, int attribute, IntPtr function);
    [LibraryImport(Lib)]
    public static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, IntPtr function, int blockSize, nuint dynamicSharedBytes);
    [LibraryImport(Lib)]
    public static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ,
                                             uint blockX, uint blockY, uint blockZ, uint sharedMemBytes,
                                             IntPtr stream, void** kernelParams, void** extra);
    [LibraryImport(Lib)] public static partial int cuGetErrorName(int error, out byte* name);
    [LibraryImport(Lib)] public static partial int cuGetErrorString(int error, out byte* description);
    [LibraryImport(Lib)] public static partial int cuEventCreate(out IntPtr @event, uint flags);
    [LibraryImport(Lib)] public static partial int cuEventRecord(IntPtr @event, IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuEventSynchronize(IntPtr @event);
    [LibraryImport(Lib)] public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")] public static partial int cuEventDestroy(IntPtr @event);
}
