using System;
using System.Runtime.InteropServices;
using System.Threading;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>Checking of driver API results and the one-time <c>cuInit</c>.</summary>
internal static class CudaDriver
{
    // Holds the library (a class) rather than a dummy int: Lazy<int> is a framework generic over a value type, with
    // no precompiled code, which a new process JIT-compiled on its first kernel (docs/gpu.md "First kernel of a process").
    private static readonly Lazy<LoadedLibrary> s_initialized = new(InitializeOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Loads <c>libcuda</c> and runs <c>cuInit</c> once per process; throws if either fails.</summary>
    public static void EnsureInitialized() => _ = s_initialized.Value;

    /// <summary>The driver's CUDA version, e.g. 13000 for 13.0.</summary>
    public static int DriverVersion
    {
        get
        {
            EnsureInitialized();
            Check(cuDriverGetVersion(out int version), nameof(cuDriverGetVersion));
            return version;
        }
    }

    private static LoadedLibrary InitializeOnce()
    {
        var driver = CudaLibraries.Driver;   // throws the library-not-found error listing every path tried
        Check(cuInit(0), nameof(cuInit));
        return driver;
    }

    /// <summary>Throws <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is success.</summary>
    public static void Check(int result, string call, string? hint = null)
    {
        if (result != CUDA_SUCCESS) throw Error(result, call, hint);
    }

    /// <summary>The exception for a failed call, with the driver's error name and description.</summary>
    public static unsafe CudaException Error(int result, string call, string? hint = null)
    {
        string name = cuGetErrorName(result, out byte* namePtr) == CUDA_SUCCESS && namePtr != null
            ? Marshal.PtrToStringUTF8((IntPtr)namePtr) ?? "" : $"CUresult {result}";
        string description = cuGetErrorString(result, out byte* textPtr) == CUDA_SUCCESS && textPtr != null
            ? Marshal.PtrToStringUTF8((IntPtr)textPtr) ?? "" : "";
        if (hint is null && result == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
            hint = "The PTX was produced by an NVRTC newer than the driver; use an NVRTC no newer than the driver "
                 + $"(set {CudaLibraryResolver.NvrtcOverrideVariable}) or update the driver";
        return new CudaException(call, result, name, description, hint);
    }
}
