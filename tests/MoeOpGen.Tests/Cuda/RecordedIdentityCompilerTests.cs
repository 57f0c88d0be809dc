using System;
using System.Collections.Generic;
using System.IO;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>A warm process takes the compiler's version and architectures from a record and never loads the compiler;
/// anything else asks the real one.</summary>
public class RecordedIdentityCompilerTests : IDisposable
{
    private const string Arch = "sm_90";
    private static readonly CudaSource Source = new("scale", "extern \"C\" __global__ void scale(float* x) { x[0] *= 2.f; }");
    private readonly TempDirectory _directory = new();
    private readonly string _library;

    public RecordedIdentityCompilerTests()
    {
        _library = _directory.Combine("lib", "libnvrtc.so.13");
        Directory.CreateDirectory(Path.GetDirectoryName(_library)!);
        File.WriteAllText(_library, "stands for libnvrtc");
    }

    public void Dispose() => _directory.Dispose();

    private string CacheDirectory => _directory.Combine("cache");

    private RecordedIdentityCompiler Recorded(IKernelCompiler compiler, Func<string?>? predict = null, Func<string?>? loaded = null) =>
        new(compiler, predict ?? (() => _library), loaded ?? (() => _library), new CompilerIdentityRecords(CacheDirectory));

    private KernelCache NewCache(IKernelCompiler compiler) =>
        new(compiler, new KernelDiskCache(CacheDirectory, message => throw new InvalidOperationException(message)));

    /// <summary>A process that loaded the compiler and compiled <see cref="Source"/>: leaves the entry and the record.</summary>
    private void FirstProcess()
    {
        var first = Recorded(new FakeKernelCompiler());
        NewCache(first).GetOrCompile(Source, Arch);
        Assert.False(first.FactsFromRecord);
    }

    [Fact]
    public void AWarmHitWithAMatchingRecordNeverAsksTheCompiler()
    {
        FirstProcess();
        var refusing = new RefusingCompiler();
        var warm = Recorded(refusing, loaded: () => throw new InvalidOperationException("asked where the compiler was loaded from"));
        var cache = NewCache(warm);
        var registry = new CudaModuleRegistry(cache);

        var target = registry.TargetFor(computeCapability: 90);
        var image = cache.GetOrCompile(Source, target);

        Assert.Equal("sm_90", target);
        Assert.Equal(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options), image.Image);
        Assert.True(warm.FactsFromRecord);
        Assert.Equal("fake 1.0", warm.Version);
        Assert.Equal(0, refusing.Calls);
        // The recorded architectures drive the target: a newer device than any recorded gets PTX of the newest.
        Assert.Equal("compute_90", registry.TargetFor(computeCapability: 100));
    }

    [Fact]
    public void AMissStillCompilesWithTheRealCompilerAfterCheckingItMatchesTheRecord()
    {
        FirstProcess();
        var compiler = new FakeKernelCompiler();
        var warm = Recorded(compiler);
        var cache = NewCache(warm);
        var other = new CudaSource("other", "extern \"C\" __global__ void other(float* x) { x[0] = 1.f; }");

        var image = cache.GetOrCompile(other, Arch, out var key);

        Assert.True(warm.FactsFromRecord);
        Assert.Equal(1, compiler.CompileCount);
        Assert.Equal(FakeKernelCompiler.ImageFor(other.Code, Arch, other.Options), image.Image);
        Assert.Equal(KernelCacheKey.Compute(other.ModuleName, other.Code, other.Options, Arch, compiler.Version), key);
    }

    [Fact]
    public void ACompilerThatDisagreesWithTheRecordItWasKeyedByRefusesToCompile()
    {
        FirstProcess();
        // The library changed after the record was matched: the real compiler is another version.
        var changed = new FakeKernelCompiler("fake 2.0");
        var warm = Recorded(changed);
        var cache = NewCache(warm);
        var other = new CudaSource("other", "extern \"C\" __global__ void other(float* x) { x[0] = 1.f; }");

        var error = Assert.Throws<CudaException>(() => cache.GetOrCompile(other, Arch));

        Assert.Contains("fake 2.0", error.Message);
        Assert.Contains("fake 1.0", error.Message);
        Assert.Equal(0, changed.CompileCount);
        Assert.False(File.Exists(cache.Disk.PathFor(cache.KeyFor(other, Arch))));
    }

    [Fact]
    public void AReplacedLibraryIsAskedAgainAndRecordedAfresh()
    {
        FirstProcess();
        File.AppendAllText(_library, " version 2");
        var upgraded = new FakeKernelCompiler("fake 2.0");

        var afterUpgrade = Recorded(upgraded);

        Assert.Equal("fake 2.0", afterUpgrade.Version);
        Assert.False(afterUpgrade.FactsFromRecord);
        var next = Recorded(new RefusingCompiler());
        Assert.Equal("fake 2.0", next.Version);
        Assert.True(next.FactsFromRecord);
    }

    [Fact]
    public void WhenOnlyTheLoaderCanTellTheCompilerIsAsked()
    {
        FirstProcess();
        var compiler = new FakeKernelCompiler("fake 1.0");

        var soname = Recorded(compiler, predict: () => null, loaded: () => "libnvrtc.so.13");

        Assert.Equal("fake 1.0", soname.Version);
        Assert.False(soname.FactsFromRecord);
    }

    [Fact]
    public void ARecordOfAnotherLibraryIsNotUsed()
    {
        FirstProcess();
        var otherLibrary = _directory.Combine("lib", "libnvrtc.so.12");
        File.WriteAllText(otherLibrary, "another libnvrtc");
        var compiler = new FakeKernelCompiler("fake 0.9");

        var elsewhere = Recorded(compiler, predict: () => otherLibrary, loaded: () => otherLibrary);

        Assert.Equal("fake 0.9", elsewhere.Version);
        Assert.False(elsewhere.FactsFromRecord);
    }

    /// <summary>Fails the test if anything asks it for anything: stands for a compiler that must not be loaded.</summary>
    private sealed class RefusingCompiler : IKernelCompiler
    {
        public int Calls { get; private set; }

        public string Version => Refuse<string>();

        public IReadOnlyList<int> SupportedArchitectures => Refuse<IReadOnlyList<int>>();

        public CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options) => Refuse<CompiledKernel>();

        private T Refuse<T>()
        {
            Calls++;
            throw new InvalidOperationException("the compiler was asked although a record matched");
        }
    }
}
