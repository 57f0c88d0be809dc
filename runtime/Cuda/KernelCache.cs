using System;
using System.Collections.Concurrent;
using System.Threading;

namespace MoeOpGen.Cuda;

/// <summary>
/// Compiled module images by content address (<see cref="KernelCacheKey"/>): memory first, then the disk cache,
/// then the compiler. Every key is compiled at most once per instance, however many threads ask for it at once:
/// they share one <see cref="Lazy{T}"/>. A failed compilation is not remembered, so a later call retries.
/// The process uses <see cref="Shared"/>; tests build instances with a fake compiler and their own directory.
/// </summary>
internal sealed class KernelCache
{
    private static readonly Lazy<KernelCache> s_shared = new(CreateShared, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly ConcurrentDictionary<string, Lazy<CompiledKernel>> _images = new(StringComparer.Ordinal);
    private readonly Lazy<string> _compilerVersion;

    public KernelCache(IKernelCompiler compiler, KernelDiskCache disk)
    {
        Compiler = compiler;
        Disk = disk;
        _compilerVersion = new Lazy<string>(() => compiler.Version, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The process-wide cache: NVRTC, the default directory, warnings to standard error.</summary>
    public static KernelCache Shared => s_shared.Value;

    /// <summary>NVRTC's version and architectures come from a compiler-identity record in the same directory when one
    /// matches the library that would be loaded, so a process whose kernels are all on disk never loads NVRTC.</summary>
    private static KernelCache CreateShared()
    {
        // The warning sink is a lambda, not the method group Console.Error.WriteLine: evaluating Console.Error sets up
        // the console's writer and encoding (about 2 ms, JIT included), which a process would pay on its first kernel
        // load even when nothing is ever written.
        var disk = new KernelDiskCache(KernelDiskCache.DefaultDirectory(Environment.GetEnvironmentVariable),
                                       message => Console.Error.WriteLine(message));
        return new KernelCache(RecordedIdentityCompiler.ForNvrtc(disk.Directory), disk);
    }

    public IKernelCompiler Compiler { get; }

    public KernelDiskCache Disk { get; }

    /// <summary>The cache key of <paramref name="source"/> compiled for <paramref name="arch"/>.</summary>
    public string KeyFor(CudaSource source, string arch) =>
        KernelCacheKey.Compute(source.ModuleName, source.Code, source.Options, arch, _compilerVersion.Value, source.CodeSha256);

    /// <summary>The image of <paramref name="source"/> for <paramref name="arch"/>, compiled only when neither
    /// memory nor disk has a valid one.</summary>
    public CompiledKernel GetOrCompile(CudaSource source, string arch) => GetOrCompile(source, arch, out _);

    /// <inheritdoc cref="GetOrCompile(CudaSource, string)"/>
    /// <param name="source">The module to compile.</param>
    /// <param name="arch">The target architecture, <c>sm_XY</c> or <c>compute_XY</c>.</param>
    /// <param name="key">The cache key (also names the module in the per-device tables).</param>
    public CompiledKernel GetOrCompile(CudaSource source, string arch, out string key)
    {
        ArgumentNullException.ThrowIfNull(source);
        CudaArchitecture.KindOf(arch, nameof(arch));
        if (!_compilerVersion.IsValueCreated)
        {
            long versionStarted = KernelLoadPhases.Start();
            _ = _compilerVersion.Value;
            KernelLoadPhases.Stop(versionStarted, KernelLoadPhases.CompilerVersion);
        }
        long keyStarted = KernelLoadPhases.Start();
        var k = key = KeyFor(source, arch);
        KernelLoadPhases.Stop(keyStarted, KernelLoadPhases.CacheKey);
        var lazy = _images.GetOrAdd(k, _ => new Lazy<CompiledKernel>(
            () => LoadOrCompile(source, arch, k), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Forget the failure (only this Lazy, not one a retry already put there) so the next call tries again.
            _images.TryRemove(new(k, lazy));
            throw;
        }
    }

    private CompiledKernel LoadOrCompile(CudaSource source, string arch, string key)
    {
        var cached = Disk.TryRead(key, out _);
        if (cached is not null) return cached;
        // A missing, corrupt, truncated or foreign entry all end here: compile and overwrite it.
        // A stated digest is checked against the code (its real digest computed once per string, as for unstated ones).
        if (source.CodeSha256 is { } stated && KernelCacheKey.ToHex(KernelCacheKey.SourceDigest(source.Code)) is var actual
            && actual != stated)
            throw new CudaException(
                $"CUDA module '{source.ModuleName}' states CodeSha256 {stated}, which is not the SHA-256 of its code "
                + $"({actual}): the digest or the code was edited by hand. Regenerate the module, or leave CodeSha256 unset.");
        long started = KernelLoadPhases.Start();
        var compiled = Compiler.Compile(source.Code, source.ModuleName, arch, source.Options);
        KernelLoadPhases.Stop(started, KernelLoadPhases.NvrtcCompile);
        started = KernelLoadPhases.Start();
        Disk.Write(key, compiled);
        KernelLoadPhases.Stop(started, KernelLoadPhases.DiskWrite);
        return compiled;
    }
}
