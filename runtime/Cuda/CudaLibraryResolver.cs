using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace MoeOpGen.Cuda;

/// <summary>The native libraries the CUDA runtime needs.</summary>
internal enum CudaLibrary
{
    /// <summary>The CUDA driver API, <c>libcuda.so.1</c> (installed with the GPU driver).</summary>
    Driver,

    /// <summary>The runtime compiler, <c>libnvrtc.so.*</c> (CUDA toolkit, a distribution package or a PyTorch wheel).</summary>
    Nvrtc,
}

/// <summary>A native library that was found and loaded, and where it came from.</summary>
internal sealed record LoadedLibrary(CudaLibrary Library, IntPtr Handle, string Location);

/// <summary>
/// Finds and loads <c>libcuda</c> and <c>libnvrtc</c>. The search order (first hit wins):
/// <list type="number">
/// <item>an environment override, <c>MOEOPGEN_CUDA</c> / <c>MOEOPGEN_NVRTC</c> (a full path); when set, it is
/// the only candidate, so a wrong override fails loudly instead of silently picking another library;</item>
/// <item>NVRTC: <c>$CUDA_HOME</c>, <c>$CUDA_PATH</c>, <c>/usr/local/cuda</c> and <c>/usr/local/cuda-*</c>
/// (newest first), each in <c>lib64</c>, <c>targets/x86_64-linux/lib</c> and <c>lib</c>;</item>
/// <item>the system loader by soname (<c>libnvrtc.so.13</c>, <c>.12</c>, <c>.11.2</c>, <c>libnvrtc.so</c>;
/// <c>libcuda.so.1</c>);</item>
/// <item>versioned names found in the usual library directories (Debian's <c>libnvrtc11.2</c> package puts
/// <c>libnvrtc.so.11.2</c> in <c>/usr/lib/x86_64-linux-gnu</c>; containers mount the driver in
/// <c>/usr/local/nvidia/lib64</c>);</item>
/// <item>NVRTC only: a PyTorch wheel's <c>site-packages/nvidia/*/lib</c> (e.g. <c>nvidia/cu13/lib</c>,
/// <c>nvidia/cuda_nvrtc/lib</c>) in the common virtual-environment locations, found by scanning directories
/// rather than by running <c>python3</c> (which may be absent or slow).</item>
/// </list>
/// The driver's link stubs (<c>lib64/stubs/libcuda.so</c>) are never loaded: they fail every call.
/// </summary>
internal sealed class CudaLibraryResolver
{
    /// <summary>Environment variable holding the full path of <c>libnvrtc</c> to use.</summary>
    public const string NvrtcOverrideVariable = "MOEOPGEN_NVRTC";

    /// <summary>Environment variable holding the full path of <c>libcuda</c> to use.</summary>
    public const string DriverOverrideVariable = "MOEOPGEN_CUDA";

    private readonly Func<string, string?> _getEnvironmentVariable;
    private readonly Func<string, IntPtr> _loadLibrary;

    /// <param name="getEnvironmentVariable">Reads an environment variable (injectable for tests).</param>
    /// <param name="loadLibrary">Loads a library by path or soname, throwing on failure (injectable for tests).</param>
    internal CudaLibraryResolver(Func<string, string?> getEnvironmentVariable, Func<string, IntPtr>? loadLibrary = null)
    {
        _getEnvironmentVariable = getEnvironmentVariable;
        _loadLibrary = loadLibrary ?? NativeLibrary.Load;
    }

    /// <summary>A resolver reading this process's environment and loading with the system loader.</summary>
    public static CudaLibraryResolver ForCurrentProcess() => new(Environment.GetEnvironmentVariable);

    /// <summary>Loads <paramref name="library"/>, or throws one exception listing every location tried.</summary>
    public LoadedLibrary Load(CudaLibrary library)
    {
        var attempts = new List<string>();
        foreach (var candidate in EnumerateCandidates(library))
        {
            if (candidate.Pattern is { } pattern)
            {
                // A directory to scan for versioned names: record misses so the error shows the whole search.
                if (!Directory.Exists(candidate.Location))
                {
                    attempts.Add($"{Path.Combine(candidate.Location, pattern)}: no such directory");
                    continue;
                }
                // Known names first, as Predict takes them; then the rest of the listing.
                var matches = KnownFiles(candidate);
                foreach (var file in VersionedFiles(candidate.Location, pattern))
                    if (!matches.Contains(file)) matches.Add(file);
                if (matches.Count == 0)
                {
                    attempts.Add($"{Path.Combine(candidate.Location, pattern)}: no match");
                    continue;
                }
                foreach (var file in matches)
                    if (TryLoad(library, file, attempts) is { } hit) return hit;
                continue;
            }

            if (candidate.IsPath && !File.Exists(candidate.Location))
            {
                attempts.Add($"{candidate.Location}: file not found{candidate.Note}");
                continue;
            }
            if (TryLoad(library, candidate.Location, attempts, candidate.Note) is { } loaded) return loaded;
        }
        throw new CudaLibraryNotFoundException(DisplayName(library), HowToFix(library), attempts);
    }

    /// <summary>
    /// The file <see cref="Load"/> would load for <paramref name="library"/>, found without loading anything (a dry
    /// run of the same search, by <c>stat</c> and directory listings), or null when that cannot be told without
    /// loading: when the search reaches a system-loader step (a bare soname, which only the loader can resolve)
    /// before any existing file, or finds nothing.
    /// </summary>
    /// <remarks>
    /// The answer is the first existing file in search order. <see cref="Load"/> goes on to later candidates when
    /// that file fails to load; such a file was never loaded, so no compiler-identity record names it, and a caller
    /// that only trusts recorded files (<see cref="RecordedIdentityCompiler"/>) falls back to loading, as it must.
    /// <para>It runs on a new process's first kernel (the record is looked up by its answer), so it does no more than
    /// the answer needs: it stops at the first hit, names later candidates (the <c>/usr/local/cuda-*</c> listing,
    /// Python environments) only when reached, and takes the best file of a directory in one pass over the listing
    /// without sorting it.</para>
    /// </remarks>
    public string? Predict(CudaLibrary library)
    {
        foreach (var candidate in EnumerateCandidates(library))
        {
            if (candidate.Pattern is { } pattern)
            {
                if (!Directory.Exists(candidate.Location)) continue;
                if (KnownFiles(candidate) is { Count: > 0 } known) return known[0];
                if (PreferredFile(candidate.Location, pattern) is { } file) return file;
                continue;
            }
            if (!candidate.IsPath) return null;
            if (File.Exists(candidate.Location)) return candidate.Location;
        }
        return null;
    }

    private LoadedLibrary? TryLoad(CudaLibrary library, string nameOrPath, List<string> attempts, string note = "")
    {
        try
        {
            var handle = _loadLibrary(nameOrPath);
            return new LoadedLibrary(library, handle, nameOrPath);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or IOException)
        {
            // The loader's own reason (e.g. a missing dependency or a wrong ELF class) is the useful part.
            attempts.Add($"{nameOrPath}{note}: {FirstLine(e.Message)}");
            return null;
        }
    }

    /// <summary>The ordered candidates for <paramref name="library"/>; exposed for tests and diagnostics.</summary>
    internal IReadOnlyList<Candidate> Candidates(CudaLibrary library) => [.. EnumerateCandidates(library)];

    /// <summary>The candidates in order, produced as the search reaches them: the directory scans that name the later
    /// ones (Python environments) run only when no earlier candidate was loaded.</summary>
    private IEnumerable<Candidate> EnumerateCandidates(CudaLibrary library)
    {
        var overrideVariable = library == CudaLibrary.Nvrtc ? NvrtcOverrideVariable : DriverOverrideVariable;
        var overridePath = _getEnvironmentVariable(overrideVariable);
        if (!string.IsNullOrWhiteSpace(overridePath))
            return [Candidate.File(overridePath, $" (from {overrideVariable})")];

        bool windows = OperatingSystem.IsWindows();
        return library switch
        {
            CudaLibrary.Nvrtc => windows ? WindowsNvrtcCandidates() : LinuxNvrtcCandidates(),
            _ => windows ? [Candidate.Name("nvcuda.dll")] : LinuxDriverCandidates(),
        };
    }

    private IEnumerable<Candidate> LinuxNvrtcCandidates()
    {
        const string pattern = "libnvrtc.so*";
        foreach (var root in ToolkitRoots())
            foreach (var sub in new[] { "lib64", "targets/x86_64-linux/lib", "lib" })
                yield return Candidate.Scan(Path.Combine(root, sub), pattern, NvrtcSonames);

        foreach (var soname in NvrtcSonames)
            yield return Candidate.Name(soname);

        foreach (var dir in SystemLibraryDirectories)
            yield return Candidate.Scan(dir, pattern, NvrtcSonames);

        foreach (var sitePackages in PythonSitePackages())
        {
            var nvidia = Path.Combine(sitePackages, "nvidia");
            var libs = SubdirectoriesMatching(nvidia, "lib").ToList();
            if (libs.Count == 0) yield return Candidate.Scan(Path.Combine(nvidia, "*", "lib"), pattern);   // reported as absent
            foreach (var lib in libs) yield return Candidate.Scan(lib, pattern);
        }
    }

    /// <summary>NVRTC's sonames, newest first: what the system loader is asked for, and the names looked for in a
    /// directory before it is listed (see <see cref="Candidate.KnownNames"/>).</summary>
    private static readonly string[] NvrtcSonames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

    /// <summary>Those of <paramref name="candidate"/>'s <see cref="Candidate.KnownNames"/> present in its directory,
    /// in that order (stubs excluded); empty when it has none.</summary>
    private static List<string> KnownFiles(Candidate candidate)
    {
        var found = new List<string>();
        foreach (var name in candidate.KnownNames)
        {
            var file = Path.Combine(candidate.Location, name);
            if (!IsStub(file) && File.Exists(file)) found.Add(file);
        }
        return found;
    }

    private static List<Candidate> LinuxDriverCandidates()
    {
        var list = new List<Candidate> { Candidate.Name("libcuda.so.1") };
        foreach (var dir in new[] { "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib" }
                     .Concat(SystemLibraryDirectories))
            list.Add(Candidate.Scan(dir, "libcuda.so*"));
        return list;
    }

    private List<Candidate> WindowsNvrtcCandidates()
    {
        var list = new List<Candidate>();
        foreach (var root in ToolkitRoots())
            foreach (var sub in new[] { "bin", "bin/x64" })
                list.Add(Candidate.Scan(Path.Combine(root, sub), "nvrtc64_*.dll"));
        foreach (var name in new[] { "nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll" })
            list.Add(Candidate.Name(name));
        return list;
    }

    /// <summary>CUDA toolkit roots: the environment's, then the default install, then versioned installs, newest first;
    /// each once. Produced as the search reaches them: <c>/usr/local</c> is listed only when the earlier roots had
    /// no hit.</summary>
    private IEnumerable<string> ToolkitRoots()
    {
        var seen = new List<string>();
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (_getEnvironmentVariable(variable) is { Length: > 0 } root && !seen.Contains(root))
            {
                seen.Add(root);
                yield return root;
            }
        if (OperatingSystem.IsWindows()) yield break;
        const string defaultRoot = "/usr/local/cuda";
        if (!seen.Contains(defaultRoot))
        {
            seen.Add(defaultRoot);
            yield return defaultRoot;
        }
        if (!Directory.Exists("/usr/local")) yield break;
        var versioned = new List<string>(Directory.EnumerateDirectories("/usr/local", "cuda-*"));
        versioned.Sort((a, b) => CompareVersions(Path.GetFileName(b.AsSpan())["cuda-".Length..],
                                                 Path.GetFileName(a.AsSpan())["cuda-".Length..]));
        foreach (var root in versioned)
            if (!seen.Contains(root))
            {
                seen.Add(root);
                yield return root;
            }
    }

    private static readonly string[] SystemLibraryDirectories =
        ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"];

    /// <summary>Site-packages directories of the usual Python environments, without running Python.</summary>
    private IEnumerable<string> PythonSitePackages()
    {
        var prefixes = new List<string>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (_getEnvironmentVariable(variable) is { Length: > 0 } prefix) prefixes.Add(prefix);
        var home = _getEnvironmentVariable("HOME");
        if (!string.IsNullOrEmpty(home))
        {
            prefixes.Add(Path.Combine(home, ".local"));
            prefixes.Add(Path.Combine(home, ".venv"));
            prefixes.Add(Path.Combine(home, "venv"));
        }
        prefixes.Add(Path.Combine(Environment.CurrentDirectory, ".venv"));
        prefixes.AddRange(["/opt/torch/.venv", "/opt/venv", "/opt/conda", "/usr/local", "/usr"]);

        var found = new List<string>();
        foreach (var prefix in prefixes.Distinct(StringComparer.Ordinal))
            foreach (var python in SubdirectoriesMatching(Path.Combine(prefix, "lib"), "python3*"))
                foreach (var kind in new[] { "site-packages", "dist-packages" })
                {
                    var dir = Path.Combine(python, kind);
                    if (Directory.Exists(dir)) found.Add(dir);
                }
        // Debian's system packages live in /usr/lib/python3/dist-packages (no minor version).
        if (Directory.Exists("/usr/lib/python3/dist-packages")) found.Add("/usr/lib/python3/dist-packages");
        // The GPU test machines' PyTorch (see shared/reference/torchsharp-notes.md §4.4), named even when absent
        // so that the error message shows it was looked at.
        const string gpuMachineWheel = "/opt/torch/.venv/lib/python3.12/site-packages";
        if (!found.Contains(gpuMachineWheel)) found.Add(gpuMachineWheel);
        return found.Distinct(StringComparer.Ordinal);
    }

    /// <summary><c>parent/*/leaf</c> for every subdirectory of <paramref name="parent"/> (or matching dirs when
    /// <paramref name="leafOrPattern"/> has a wildcard); missing directories give nothing.</summary>
    private static IEnumerable<string> SubdirectoriesMatching(string parent, string leafOrPattern)
    {
        if (!Directory.Exists(parent)) return [];
        try
        {
            if (leafOrPattern.Contains('*'))
                return Directory.EnumerateDirectories(parent, leafOrPattern).Order(StringComparer.Ordinal).ToList();
            return Directory.EnumerateDirectories(parent).Order(StringComparer.Ordinal)
                            .Select(d => Path.Combine(d, leafOrPattern)).Where(Directory.Exists).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Files matching <paramref name="pattern"/>, the highest version suffix first (<see cref="Preferred"/>).</summary>
    private static List<string> VersionedFiles(string directory, string pattern)
    {
        try
        {
            var files = new List<string>();
            foreach (var file in Directory.EnumerateFiles(directory, pattern))
                if (!IsStub(file)) files.Add(file);
            files.Sort(Preferred);
            return files;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The first of <see cref="VersionedFiles"/>, found in one pass without keeping or sorting the others;
    /// null when none matches.</summary>
    private static string? PreferredFile(string directory, string pattern)
    {
        try
        {
            string? best = null;
            foreach (var file in Directory.EnumerateFiles(directory, pattern))
                if (!IsStub(file) && (best is null || Preferred(file, best) < 0)) best = file;
            return best;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsStub(string file) => file.Contains("/stubs/", StringComparison.Ordinal);

    /// <summary>Search order within a directory: the higher version suffix first, then by ordinal name (so that
    /// <see cref="Load"/> and <see cref="Predict"/> agree whatever order the file system lists them in).</summary>
    private static int Preferred(string x, string y)
    {
        int byVersion = CompareVersions(VersionSuffix(Path.GetFileName(y.AsSpan())), VersionSuffix(Path.GetFileName(x.AsSpan())));
        return byVersion != 0 ? byVersion : string.CompareOrdinal(x, y);
    }

    /// <summary>"libnvrtc.so.12.4.99" → "12.4.99"; "nvrtc64_120_0.dll" → "120_0" (parts separated by '_'); "libnvrtc.so" → "".</summary>
    private static ReadOnlySpan<char> VersionSuffix(ReadOnlySpan<char> fileName)
    {
        int so = fileName.IndexOf(".so.", StringComparison.Ordinal);
        if (so >= 0) return fileName[(so + 4)..];
        int underscore = fileName.IndexOf('_');
        return underscore >= 0 ? Path.GetFileNameWithoutExtension(fileName)[(underscore + 1)..] : [];
    }

    /// <summary>Orders versions numerically, part by part (12.10 &gt; 12.9); a missing part, or one that is not a
    /// decimal number, counts as -1 and sorts first. Parts are separated by '.' or '_'.</summary>
    /// <remarks>A loop over the characters rather than Split, LINQ and int.TryParse: this runs on a new process's
    /// first kernel (<see cref="Predict"/>), where each of those costs JIT compilation or culture set-up.</remarks>
    internal static int CompareVersions(ReadOnlySpan<char> x, ReadOnlySpan<char> y)
    {
        while (x.Length > 0 || y.Length > 0)
        {
            int a = NextPart(ref x), b = NextPart(ref y);
            if (a != b) return a.CompareTo(b);
        }
        return 0;
    }

    /// <summary>The number before the first separator of <paramref name="text"/> (-1 if absent, empty, not all digits
    /// or above int.MaxValue), and <paramref name="text"/> advanced past the separator.</summary>
    private static int NextPart(ref ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return -1;
        int end = text.IndexOfAny('.', '_');
        var part = end < 0 ? text : text[..end];
        text = end < 0 ? [] : text[(end + 1)..];
        if (part.IsEmpty) return -1;
        long value = 0;
        foreach (char c in part)
        {
            if (c is < '0' or > '9') return -1;
            value = value * 10 + (c - '0');
            if (value > int.MaxValue) return -1;
        }
        return (int)value;
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOf('\n');
        return newline < 0 ? text : text[..newline];
    }

    private static string DisplayName(CudaLibrary library) =>
        library == CudaLibrary.Nvrtc ? "NVRTC (libnvrtc, the CUDA runtime compiler)" : "the CUDA driver (libcuda)";

    private static string HowToFix(CudaLibrary library) => library == CudaLibrary.Nvrtc
        ? $"Install a CUDA toolkit, a distribution package (Debian: libnvrtc11.2 from non-free) or a PyTorch wheel, "
          + $"or set {NvrtcOverrideVariable} to the full path of libnvrtc.so.*."
        : $"Install an NVIDIA GPU driver, or set {DriverOverrideVariable} to the full path of libcuda.so.1.";

    /// <summary>One place to try: a file path, a soname for the system loader, or a directory to scan.</summary>
    /// <remarks>A class, not a struct: the driver's candidates are a <c>List&lt;Candidate&gt;</c>, and a framework
    /// generic over a struct has no ReadyToRun code, so a new process JIT-compiled that list's methods while loading
    /// the driver for its first kernel (docs/gpu.md "First kernel of a process").</remarks>
    internal sealed record Candidate(string Location, bool IsPath, string? Pattern, string Note)
    {
        /// <summary>For a directory scan: file names taken, in this order, when present, before the directory is
        /// listed at all. Listing a CUDA toolkit's <c>lib64</c> costs a <c>stat</c> and an <c>lstat</c> for each of
        /// its hundreds of symbolic links (.NET's enumeration asks whether each entry is a directory before any
        /// name filter runs): 1.3 ms of an H100 process's first kernel load. Its NVRTC is there under its soname
        /// (<c>libnvrtc.so.13</c>, a link to <c>libnvrtc.so.13.0.88</c>), the same library a listing would choose
        /// unless a newer major version without a known soname sits beside it.</summary>
        public string[] KnownNames { get; init; } = [];

        public static Candidate File(string path, string note = "") => new(path, true, null, note);
        public static Candidate Name(string soname) => new(soname, false, null, " (system loader)");
        public static Candidate Scan(string directory, string pattern, string[]? knownNames = null) =>
            new(directory, true, pattern, "") { KnownNames = knownNames ?? [] };
    }
}
