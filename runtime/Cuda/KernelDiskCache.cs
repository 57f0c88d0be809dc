using System;
using System.IO;
using System.Threading;

namespace MoeOpGen.Cuda;

/// <summary>
/// The directory of compiled module images, one file <c>&lt;key&gt;.kernel</c> per cache key (format in
/// <see cref="KernelCacheEntry"/>). Writers never expose a partial file: they write a uniquely named temporary
/// file in the same directory and rename it over the entry, which is atomic on one file system, so concurrent
/// processes at worst write the same bytes twice. No fsync: a torn file after a crash fails its checksum and is
/// recompiled. When the directory cannot be created or written, the cache warns once and stays in memory only.
/// </summary>
internal sealed class KernelDiskCache
{
    /// <summary>Environment variable naming the cache directory (used as given).</summary>
    public const string DirectoryVariable = "MOEOPGEN_CACHE_DIR";

    private const string EntryExtension = ".kernel";
    private readonly Action<string> _warn;
    private int _writesDisabled;

    /// <param name="directory">The cache directory; null means memory only (no warning).</param>
    /// <param name="warn">Receives the one warning about an unusable directory.</param>
    public KernelDiskCache(string? directory, Action<string> warn)
    {
        _warn = warn;
        try
        {
            Directory = string.IsNullOrWhiteSpace(directory) ? null : Path.GetFullPath(directory);
        }
        catch (Exception e) when (IsFileSystemFailure(e))
        {
            // A malformed MOEOPGEN_CACHE_DIR (a NUL character, say) must not break the first kernel launch.
            _writesDisabled = 1;
            warn($"MoeOpGen: '{directory}' cannot be the CUDA kernel cache directory ({e.GetType().Name}: {e.Message}); kernels are kept in memory only. "
                + $"Set {DirectoryVariable} to a writable directory to keep them.");
        }
    }

    /// <summary>
    /// What the file system may throw: I/O and permission errors, and ArgumentException, which .NET uses for a
    /// path it cannot use and for EFBIG (a write beyond the file-size limit is "file length too large",
    /// ArgumentOutOfRangeException). The disk cache is an optimisation, so none of these may fail a launch.
    /// </summary>
    private static bool IsFileSystemFailure(Exception e)
        => e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException or System.Security.SecurityException;

    /// <summary>The cache directory, or null when the cache is memory-only from the start.</summary>
    public string? Directory { get; }

    /// <summary>False once a write failed (and the warning was given), or when there is no directory.</summary>
    public bool IsWritable => Directory is not null && Volatile.Read(ref _writesDisabled) == 0;

    /// <summary>
    /// The default directory: <c>$MOEOPGEN_CACHE_DIR</c>; else, on Windows, <c>%LOCALAPPDATA%\moeopgen</c>;
    /// else <c>$XDG_CACHE_HOME/moeopgen</c>, else <c>~/.cache/moeopgen</c>. Null when none can be named.
    /// </summary>
    public static string? DefaultDirectory(Func<string, string?> getEnvironmentVariable)
    {
        if (getEnvironmentVariable(DirectoryVariable) is { Length: > 0 } explicitDirectory) return explicitDirectory;
        if (OperatingSystem.IsWindows())
        {
            var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            return local.Length == 0 ? null : Path.Combine(local, "moeopgen");
        }
        if (getEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
            return Path.Combine(xdg, "moeopgen");
        if (getEnvironmentVariable("HOME") is { Length: > 0 } home) return Path.Combine(home, ".cache", "moeopgen");
        return null;
    }

    /// <summary>The file that holds <paramref name="keyHex"/>'s entry (null when memory-only).</summary>
    public string? PathFor(string keyHex) => Directory is null ? null : Path.Combine(Directory, keyHex + EntryExtension);

    /// <summary>The cached kernel for <paramref name="keyHex"/>, or null when absent, unreadable or invalid.</summary>
    /// <param name="keyHex">The cache key.</param>
    /// <param name="rejection">Why an existing file was not used (null on a hit or when there was no file).</param>
    public CompiledKernel? TryRead(string keyHex, out string? rejection)
    {
        rejection = null;
        var path = PathFor(keyHex);
        if (path is null) return null;
        byte[] bytes;
        long started = KernelLoadPhases.Start();
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (IsFileSystemFailure(e))
        {
            rejection = "unreadable: " + e.Message;
            return null;
        }
        finally
        {
            KernelLoadPhases.Stop(started, KernelLoadPhases.DiskRead);
        }
        started = KernelLoadPhases.Start();
        var kernel = KernelCacheEntry.TryParse(keyHex, bytes, out rejection);
        KernelLoadPhases.Stop(started, KernelLoadPhases.EntryCheck);
        return kernel;
    }

    /// <summary>Stores <paramref name="kernel"/> under <paramref name="keyHex"/>, replacing any existing entry.
    /// Never throws for I/O problems: the first failure disables writes with one warning.</summary>
    public void Write(string keyHex, CompiledKernel kernel)
    {
        if (!IsWritable) return;
        var path = PathFor(keyHex)!;
        var temporary = Path.Combine(Directory!, $"{keyHex}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory!);
            File.WriteAllBytes(temporary, KernelCacheEntry.Serialize(keyHex, kernel));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (IsFileSystemFailure(e))
        {
            TryDelete(temporary);
            if (Interlocked.Exchange(ref _writesDisabled, 1) == 0)
                _warn($"MoeOpGen: cannot write the CUDA kernel cache in '{Directory}' ({e.GetType().Name}: {e.Message}). "
                    + $"Compiled kernels are kept in memory only and will be compiled again by the next process. "
                    + $"Set {DirectoryVariable} to a writable directory to keep them.");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (IsFileSystemFailure(e))
        {
            // Nothing more to do: a leftover temporary file is never read as an entry.
        }
    }
}
