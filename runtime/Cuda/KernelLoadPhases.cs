using System;
using System.Diagnostics;

namespace MoeOpGen.Cuda;

/// <summary>
/// Timings of the phases of getting a kernel that is not loaded yet — compile unit, target architecture (split into
/// predicting the compiler library, its file identity, its identity record, loading it when no record applies, and
/// the selection itself), compiler version, content key, disk read, entry check, NVRTC compile, disk write,
/// <c>cuModuleLoadData</c>,
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

    // Choosing the target architecture needs the compiler's architectures, once per process; the five phases below
    // are that work, apart (together they were one phase, "target", until a GPU machine spent 6.8 ms in it against
    // 1.6-2.0 ms on the development machine and nothing told which part).

    /// <summary>Predicting which compiler library the resolver would load, by <c>stat</c> and directory listings
    /// (<see cref="CudaLibraryResolver.Predict"/>), and making its path absolute.</summary>
    public const string PredictLibrary = "predict_library";
    /// <summary>The predicted library file's identity (<see cref="LibraryFileIdentity.Of"/>: <c>statx</c>, whose
    /// first call binds the P/Invoke to the C library).</summary>
    public const string LibraryIdentity = "library_identity";
    /// <summary>The compiler-identity record: naming it (a hash of the library path), reading and verifying it.</summary>
    public const string IdentityRecord = "identity_record";
    /// <summary>Loading the compiler to ask its version and architectures, and recording them; only when no identity
    /// record applies (so NVRTC's load shows here on a warm cache without a record).</summary>
    public const string CompilerLoad = "compiler_load";
    /// <summary>Choosing the architecture from the device's compute capability and the compiler's list.</summary>
    public const string SelectTarget = "select_target";
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
