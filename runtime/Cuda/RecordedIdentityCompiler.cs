using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace MoeOpGen.Cuda;

/// <summary>
/// A compiler whose <see cref="Version"/> and <see cref="SupportedArchitectures"/> come from a compiler-identity
/// record (<see cref="CompilerIdentityRecords"/>) when the library the resolver would load matches one, so that a
/// process whose kernels are all in the disk cache never loads the compiler; otherwise, and for every
/// <see cref="Compile"/>, it asks the real compiler (loading it), and records what that said.
/// </summary>
/// <remarks>
/// If facts taken from a record were used and the process later compiles, the real compiler's version and
/// architectures are compared with them before the first compilation: a difference means the library changed while
/// the process ran (the record matched the file when it was read), and the compilation fails rather than storing an
/// image under a key that names another compiler.
/// </remarks>
internal sealed class RecordedIdentityCompiler : IKernelCompiler
{
    private readonly IKernelCompiler _compiler;
    private readonly Func<string?> _predictLibrary;
    private readonly Func<string?> _loadedLibrary;
    private readonly CompilerIdentityRecords _records;
    // A record class rather than a tuple: Lazy<(CompilerFacts, bool)> is a framework generic over a value type, which
    // no precompiled code covers, so a new process JIT-compiled it on the warm path.
    private readonly Lazy<ResolvedFacts> _facts;
    private int _verified;

    /// <param name="compiler">The real compiler; asked for its version only when no record applies.</param>
    /// <param name="predictLibrary">The full path of the library the compiler would load, found without loading it,
    /// or null when only loading can tell (<see cref="CudaLibraryResolver.Predict"/>).</param>
    /// <param name="loadedLibrary">Where the compiler's library was loaded from, called only after
    /// <paramref name="compiler"/> has loaded it (a path, or a soname that is not recorded).</param>
    /// <param name="records">Where records are read and written.</param>
    public RecordedIdentityCompiler(IKernelCompiler compiler, Func<string?> predictLibrary, Func<string?> loadedLibrary,
                                    CompilerIdentityRecords records)
    {
        ArgumentNullException.ThrowIfNull(compiler);
        ArgumentNullException.ThrowIfNull(predictLibrary);
        ArgumentNullException.ThrowIfNull(loadedLibrary);
        ArgumentNullException.ThrowIfNull(records);
        _compiler = compiler;
        _predictLibrary = predictLibrary;
        _loadedLibrary = loadedLibrary;
        _records = records;
        _facts = new(ResolveFacts, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>NVRTC behind the records of the process-wide kernel cache directory.</summary>
    public static RecordedIdentityCompiler ForNvrtc(string? cacheDirectory) => new(
        NvrtcKernelCompiler.Instance,
        () => CudaLibraryResolver.ForCurrentProcess().Predict(CudaLibrary.Nvrtc),
        () => CudaLibraries.Nvrtc.Location,
        new CompilerIdentityRecords(cacheDirectory));

    /// <summary>Whether <see cref="Version"/> and <see cref="SupportedArchitectures"/> came from a record (tells
    /// benchmarks and tests which path ran); resolves them if not yet done.</summary>
    public bool FactsFromRecord => _facts.Value.FromRecord;

    public string Version => _facts.Value.Facts.Version;

    public IReadOnlyList<int> SupportedArchitectures => _facts.Value.Facts.SupportedArchitectures;

    public CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options)
    {
        if (_facts.Value.FromRecord && Volatile.Read(ref _verified) == 0) VerifyRecordedFacts();
        return _compiler.Compile(source, name, arch, options);
    }

    private sealed record ResolvedFacts(CompilerFacts Facts, bool FromRecord);

    private ResolvedFacts ResolveFacts()
    {
        long started = KernelLoadPhases.Start();
        var predicted = FullPathOrNull(_predictLibrary());
        KernelLoadPhases.Stop(started, KernelLoadPhases.PredictLibrary);
        if (predicted is not null && _records.TryRead(predicted) is { } recorded)
            return new(recorded, FromRecord: true);
        started = KernelLoadPhases.Start();
        // The compiler's list as it is (compilers hand out lists they never change): a copy through the interface
        // would JIT-compile a framework generic over int in a new process.
        var facts = new CompilerFacts(_compiler.Version, _compiler.SupportedArchitectures);
        if (FullPathOrNull(_loadedLibrary()) is { } loaded) _records.Write(loaded, facts);
        KernelLoadPhases.Stop(started, KernelLoadPhases.CompilerLoad);
        return new(facts, FromRecord: false);
    }

    private void VerifyRecordedFacts()
    {
        var recorded = _facts.Value.Facts;
        var version = _compiler.Version;
        var archs = _compiler.SupportedArchitectures;
        if (version != recorded.Version || !SameSequence(archs, recorded.SupportedArchitectures))
            throw new CudaException(
                $"The compiler loaded from {_loadedLibrary()} is {version} (architectures {string.Join(",", archs)}), "
                + $"but its identity record, which this process used for its kernel cache keys, said {recorded.Version} "
                + $"(architectures {string.Join(",", recorded.SupportedArchitectures)}): the library changed while the "
                + "process ran. Restart the process.");
        Volatile.Write(ref _verified, 1);
    }

    /// <summary>A path the records can name (one with a directory; a bare soname is not a file anyone can stat).</summary>
    private static string? FullPathOrNull(string? location)
    {
        if (string.IsNullOrEmpty(location) || location.IndexOfAny(['/', '\\']) < 0) return null;
        try
        {
            return Path.GetFullPath(location);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return null;
        }
    }

    private static bool SameSequence(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (a[i] != b[i]) return false;
        return true;
    }
}
