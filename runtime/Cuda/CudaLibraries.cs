using System;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;

namespace MoeOpGen.Cuda;

/// <summary>
/// The process-wide handles of <c>libcuda</c> and <c>libnvrtc</c>, and the import resolver that binds the
/// <c>LibraryImport</c> declarations (which name the logical libraries <see cref="DriverImportName"/> and
/// <see cref="NvrtcImportName"/>) to them.
/// </summary>
/// <remarks>
/// .NET allows one <see cref="NativeLibrary.SetDllImportResolver"/> per assembly, and this is the one of
/// MoeOpGen.Runtime: other native names it does not know (e.g. <c>LibTorchSharp</c>) fall through to the default
/// probing by returning <see cref="IntPtr.Zero"/>. Libraries are loaded once and never unloaded, as libtorch does.
/// </remarks>
internal static class CudaLibraries
{
    /// <summary>Logical library name of the driver API imports; resolved here, never probed for.</summary>
    public const string DriverImportName = "moeopgen-cuda-driver";

    /// <summary>Logical library name of the NVRTC imports; resolved here, never probed for.</summary>
    public const string NvrtcImportName = "moeopgen-nvrtc";

    private static readonly Lazy<LoadedLibrary> s_driver =
        new(() => CudaLibraryResolver.ForCurrentProcess().Load(CudaLibrary.Driver), LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<LoadedLibrary> s_nvrtc =
        new(() => CudaLibraryResolver.ForCurrentProcess().Load(CudaLibrary.Nvrtc), LazyThreadSafetyMode.ExecutionAndPublication);

    static CudaLibraries() =>
        NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);

    /// <summary>The loaded driver library; throws <see cref="CudaLibraryNotFoundException"/> (every time) if absent.</summary>
    public static LoadedLibrary Driver => s_driver.Value;

    /// <summary>The loaded NVRTC library; throws <see cref="CudaLibraryNotFoundException"/> (every time) if absent.</summary>
    public static LoadedLibrary Nvrtc => s_nvrtc.Value;

    /// <summary>Whether this process has loaded NVRTC (tells benchmarks and tests whether a path needed it).</summary>
    public static bool IsNvrtcLoaded => s_nvrtc.IsValueCreated;

    /// <summary>Registers the resolver (the static constructor does it); call before the first import is bound.</summary>
    public static void EnsureResolverRegistered() { }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) => libraryName switch
    {
        DriverImportName => Driver.Handle,
        NvrtcImportName => Nvrtc.Handle,
        _ => IntPtr.Zero,
    };
}
