using System;
using System.Diagnostics;

namespace MoeOpGen.Cuda;

/// <summary>
/// Timings of the phases of getting a kernel that is not loaded yet — compile unit, target architecture, compiler
/// version, content key, disk read, entry check, NVRTC compile, disk write, <c>cuModuleLoadData</c>,
/// <c>cuModuleGetFunction</c> — for <c>bench compile</c>
/// (issue 3), which must tell what a process's first kernel load spends its time on.
/// </summary>
/// <remarks>
/// Hand-written rather than an <see cref="ActivitySource"/>: the call being explained is the first of its process,
/// so the instrument must cost nothing on first use (an Activity's first start JIT-compiles and initialises its
/// machinery inside the very call it times). Off by default: a phase then costs one thread-static read. Only the
/// miss paths are instrumented; a kernel already loaded is returned before any of them. The listener is per
/// thread, so a measurement sees only the work its own thread did (and concurrent tests do not see each other's).
/// </remarks>
internal static class KernelLoadPhases
{
    public const string CompileUnit = "compile_unit";
    /// <summary>Choosing the architecture compiled for on a device, once per device (asks NVRTC what it supports).</summary>
    public const string Target = "target";
    /// <summary>The compiler version that goes into the content key, once per cache (loads NVRTC).</summary>
    public const string CompilerVersion = "compiler_version";
    public const string CacheKey = "cache_key";
    /// <summary>Reading the entry's bytes from disk.</summary>
    public const string DiskRead = "disk_read";
    /// <summary>Validating the bytes read: header, key, payload checksum.</summary>
    public const string EntryCheck = "entry_check";
    public const string NvrtcCompile = "nvrtc_compile";
    public const string DiskWrite = "disk_write";
    public const string ModuleLoad = "cuModuleLoadData";
    public const string GetFunction = "cuModuleGetFunction";

    [ThreadStatic] private static Action<string, double>? t_listener;

    /// <summary>Receives each phase's name and milliseconds as the calling thread finishes it; null (the default)
    /// turns timing off for this thread.</summary>
    public static Action<string, double>? ThreadListener
    {
        get => t_listener;
        set => t_listener = value;
    }

    /// <summary>A timestamp for <see cref="Stop"/>, or 0 when this thread has no listener.</summary>
    public static long Start() => t_listener is null ? 0 : Stopwatch.GetTimestamp();

    /// <summary>Reports <paramref name="phase"/> as having run since <paramref name="start"/> (nothing when 0).</summary>
    public static void Stop(long start, string phase)
    {
        if (start != 0) t_listener?.Invoke(phase, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
}
