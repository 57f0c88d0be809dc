using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using static MoeOpGen.Cuda.Interop.NvrtcNative;

namespace MoeOpGen.Cuda;

/// <summary>
/// Compiles CUDA C++ with NVRTC. Needs only <c>libnvrtc</c>, no GPU and no driver, so CI can check that every
/// kernel compiles (<see cref="Compile"/>). Runtime launches go through <see cref="CudaKernels"/>, which adds
/// caching; this class never caches.
/// </summary>
public static class NvrtcCompiler
{
    private static readonly Lazy<int[]> s_supportedArchitectures =
        new(ReadSupportedArchitectures, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Options MoeOpGen compiles with unless a <see cref="CudaSource"/> says otherwise: C++17, functions
    /// default to <c>__device__</c>. Deliberately without <c>--use_fast_math</c> (it changes numerics) and without
    /// <c>-lineinfo</c> (a profiling aid that enlarges binaries; add it per source when profiling).</summary>
    public static IReadOnlyList<string> DefaultOptions { get; } = ["-std=c++17", "-default-device"];

    /// <summary>True when <c>libnvrtc</c> can be loaded (never throws).</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                _ = CudaLibraries.Nvrtc;
                return true;
            }
            catch (CudaLibraryNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>Where <c>libnvrtc</c> was loaded from; throws <see cref="CudaLibraryNotFoundException"/> if absent.</summary>
    public static string LibraryLocation => CudaLibraries.Nvrtc.Location;

    /// <summary>NVRTC's version (major.minor), e.g. 12.8.</summary>
    public static Version Version
    {
        get
        {
            _ = CudaLibraries.Nvrtc;
            Check(nvrtcVersion(out int major, out int minor), nameof(nvrtcVersion));
            return new Version(major, minor);
        }
    }

    /// <summary>The real architectures NVRTC can emit CUBINs for, e.g. [50, 52, …, 90]; empty for NVRTC before 11.2,
    /// which cannot tell.</summary>
    public static IReadOnlyList<int> SupportedArchitectures => s_supportedArchitectures.Value;

    /// <summary>
    /// Compiles <paramref name="source"/> for <paramref name="arch"/>: a CUBIN for a real architecture
    /// (<c>"sm_80"</c>), PTX for a virtual one (<c>"compute_80"</c>).
    /// </summary>
    /// <param name="source">CUDA C++ source; header-free (no <c>#include</c> of CUDA headers is resolved).</param>
    /// <param name="name">Program name, used in the log's error locations, e.g. <c>quick_geglu.cu</c>.</param>
    /// <param name="arch">Target architecture, <c>sm_XY</c> or <c>compute_XY</c>.</param>
    /// <param name="options">NVRTC options other than the architecture, e.g. <see cref="DefaultOptions"/>.</param>
    /// <exception cref="CudaCompileException">NVRTC rejected the source: the message holds the log, the options
    /// and the numbered source.</exception>
    /// <exception cref="CudaLibraryNotFoundException">No <c>libnvrtc</c> could be loaded.</exception>
    public static unsafe CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var kind = CudaArchitecture.KindOf(arch, nameof(arch));
        var allOptions = WithArchitecture(options, arch);
        _ = CudaLibraries.Nvrtc;

        Check(nvrtcCreateProgram(out IntPtr program, source, name, 0, null, null), nameof(nvrtcCreateProgram));
        var nativeOptions = new IntPtr[allOptions.Count];
        try
        {
            for (int i = 0; i < nativeOptions.Length; i++) nativeOptions[i] = Marshal.StringToCoTaskMemUTF8(allOptions[i]);
            int compiled;
            fixed (IntPtr* optionPointers = nativeOptions)
                compiled = nvrtcCompileProgram(program, nativeOptions.Length, (byte**)optionPointers);
            string log = ReadLog(program);
            if (compiled != NVRTC_SUCCESS)
                throw new CudaCompileException(name, source, allOptions, log, compiled, ErrorName(compiled));

            byte[] image;
            if (kind == KernelImageKind.Cubin)
            {
                Check(nvrtcGetCUBINSize(program, out nuint size), nameof(nvrtcGetCUBINSize));
                image = new byte[checked((int)size)];
                fixed (byte* p = image) Check(nvrtcGetCUBIN(program, p), nameof(nvrtcGetCUBIN));
            }
            else
            {
                // The size includes the terminating NUL, which cuModuleLoadData needs for PTX.
                Check(nvrtcGetPTXSize(program, out nuint size), nameof(nvrtcGetPTXSize));
                image = new byte[checked((int)size)];
                fixed (byte* p = image) Check(nvrtcGetPTX(program, p), nameof(nvrtcGetPTX));
            }
            return new CompiledKernel(image, kind, log);
        }
        finally
        {
            foreach (var option in nativeOptions) Marshal.FreeCoTaskMem(option);
            nvrtcDestroyProgram(ref program);
        }
    }

    /// <summary>The options with <c>--gpu-architecture=</c><paramref name="arch"/> appended; rejects an architecture
    /// among <paramref name="options"/>, since it must come from <paramref name="arch"/> (it is part of the cache key).</summary>
    internal static IReadOnlyList<string> WithArchitecture(IReadOnlyList<string> options, string arch)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var option in options)
        {
            if (string.IsNullOrWhiteSpace(option))
                throw new ArgumentException("NVRTC options must not be null or blank.", nameof(options));
            if (option.StartsWith("-arch", StringComparison.Ordinal) || option.StartsWith("--gpu-architecture", StringComparison.Ordinal))
                throw new ArgumentException(
                    $"Pass the architecture as the arch argument, not as the option \"{option}\".", nameof(options));
        }
        return [.. options, "--gpu-architecture=" + arch];
    }

    private static unsafe string ReadLog(IntPtr program)
    {
        Check(nvrtcGetProgramLogSize(program, out nuint size), nameof(nvrtcGetProgramLogSize));
        if (size <= 1) return "";
        var buffer = new byte[checked((int)size)];
        fixed (byte* p = buffer) Check(nvrtcGetProgramLog(program, p), nameof(nvrtcGetProgramLog));
        return System.Text.Encoding.UTF8.GetString(buffer).TrimEnd('\0');
    }

    private static unsafe int[] ReadSupportedArchitectures()
    {
        _ = CudaLibraries.Nvrtc;
        try
        {
            Check(nvrtcGetNumSupportedArchs(out int count), nameof(nvrtcGetNumSupportedArchs));
            var archs = new int[count];
            fixed (int* p = archs) Check(nvrtcGetSupportedArchs(p), nameof(nvrtcGetSupportedArchs));
            // Ascending, as the selection expects; Array.Sort rather than LINQ's Order, which is JIT-compiled for
            // int in every new process (this runs on the first kernel load when no compiler-identity record applies).
            Array.Sort(archs);
            return archs;
        }
        catch (EntryPointNotFoundException)
        {
            return [];   // NVRTC before 11.2 has no way to list them.
        }
    }

    private static unsafe string ErrorName(int result)
    {
        byte* text = nvrtcGetErrorString(result);
        return text == null ? $"nvrtcResult {result}" : Marshal.PtrToStringUTF8((IntPtr)text) ?? "";
    }

    private static void Check(int result, string call)
    {
        if (result != NVRTC_SUCCESS) throw new CudaException(call, result, ErrorName(result), "");
    }
}
