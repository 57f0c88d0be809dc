using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>The kernel cache with a fake compiler: no NVRTC, no GPU.</summary>
public class KernelCacheTests : IDisposable
{
    private const string Arch = "sm_90";
    private static readonly CudaSource Source = new("scale", "extern \"C\" __global__ void scale(float* x) { x[0] *= 2.f; }");
    private readonly TempDirectory _directory = new();
    private readonly List<string> _warnings = [];

    public void Dispose() => _directory.Dispose();

    private KernelCache NewCache(FakeKernelCompiler compiler, string? directory = null) =>
        new(compiler, new KernelDiskCache(directory ?? _directory.Path, message => { lock (_warnings) _warnings.Add(message); }));

    private string EntryPath(KernelCache cache) => cache.Disk.PathFor(cache.KeyFor(Source, Arch))!;

    [Fact]
    public void ColdCacheCompilesOnceAndWritesTheEntry()
    {
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(compiler);

        var first = cache.GetOrCompile(Source, Arch);
        var second = cache.GetOrCompile(Source, Arch);

        Assert.Equal(1, compiler.CompileCount);
        Assert.Same(first, second);
        Assert.Equal(KernelImageKind.Cubin, first.Kind);
        Assert.True(File.Exists(EntryPath(cache)));
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.tmp"));
        Assert.Empty(_warnings);
    }

    [Fact]
    public void WarmDiskCacheInANewInstanceCompilesNothing()
    {
        var expected = NewCache(new FakeKernelCompiler()).GetOrCompile(Source, Arch);

        var compiler = new FakeKernelCompiler();
        var loaded = NewCache(compiler).GetOrCompile(Source, Arch);

        Assert.Equal(0, compiler.CompileCount);
        Assert.Equal(expected.Image, loaded.Image);
        Assert.Equal(expected.Kind, loaded.Kind);
    }

    [Fact]
    public void PtxEntriesRoundTrip()
    {
        var expected = NewCache(new FakeKernelCompiler()).GetOrCompile(Source, "compute_90");
        var compiler = new FakeKernelCompiler();
        var loaded = NewCache(compiler).GetOrCompile(Source, "compute_90");
        Assert.Equal(0, compiler.CompileCount);
        Assert.Equal(KernelImageKind.Ptx, loaded.Kind);
        Assert.Equal(expected.Image, loaded.Image);
    }

    [Fact]
    public void ANewCompilerVersionMissesTheOldEntries()
    {
        NewCache(new FakeKernelCompiler("fake 1.0")).GetOrCompile(Source, Arch);
        var upgraded = new FakeKernelCompiler("fake 2.0");
        NewCache(upgraded).GetOrCompile(Source, Arch);
        Assert.Equal(1, upgraded.CompileCount);
        Assert.Equal(2, Directory.GetFiles(_directory.Path, "*.kernel").Length);
    }

    public static TheoryData<string> Damages => ["truncated", "payload-bit-flip", "header-bit-flip", "foreign", "garbage", "empty"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void DamagedEntryIsRecompiledAndRewritten(string damage)
    {
        var cold = NewCache(new FakeKernelCompiler());
        var expected = cold.GetOrCompile(Source, Arch);
        var path = EntryPath(cold);
        var good = File.ReadAllBytes(path);
        File.WriteAllBytes(path, Damage(good, damage, cold));

        var compiler = new FakeKernelCompiler();
        var cache = NewCache(compiler);
        Assert.Null(cache.Disk.TryRead(cache.KeyFor(Source, Arch), out var rejection));
        Assert.NotNull(rejection);

        var recompiled = cache.GetOrCompile(Source, Arch);

        Assert.Equal(1, compiler.CompileCount);
        Assert.Equal(expected.Image, recompiled.Image);
        Assert.Equal(good, File.ReadAllBytes(path));   // rewritten, byte for byte the valid entry
        Assert.Empty(_warnings);
    }

    private byte[] Damage(byte[] good, string damage, KernelCache cache)
    {
        var bytes = (byte[])good.Clone();
        switch (damage)
        {
            case "truncated":
                return bytes[..^3];
            case "payload-bit-flip":
                bytes[^2] ^= 0x01;
                return bytes;
            case "header-bit-flip":
                bytes[12] ^= 0x40;   // payload kind
                return bytes;
            case "foreign":
                // A valid entry of another source, renamed onto this key.
                var other = Source with { Code = Source.Code + "// other" };
                cache.GetOrCompile(other, Arch);
                return File.ReadAllBytes(cache.Disk.PathFor(cache.KeyFor(other, Arch))!);
            case "garbage":
                return Enumerable.Range(0, 200).Select(i => (byte)(i * 7)).ToArray();
            case "empty":
                return [];
            default:
                throw new ArgumentOutOfRangeException(nameof(damage));
        }
    }

    [Fact]
    public void UnwritableDirectoryFallsBackToMemoryWithOneWarning()
    {
        // A path below a regular file can never be created, even by root (who ignores permission bits).
        var blocker = _directory.Combine("not-a-directory");
        File.WriteAllText(blocker, "");
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(compiler, Path.Combine(blocker, "cache"));

        var a = cache.GetOrCompile(Source, Arch);
        var b = cache.GetOrCompile(Source with { Code = Source.Code + " " }, Arch);
        var again = cache.GetOrCompile(Source, Arch);

        Assert.Equal(2, compiler.CompileCount);
        Assert.Same(a, again);                       // still cached in memory
        Assert.NotEqual(a.Image, b.Image);
        Assert.False(cache.Disk.IsWritable);
        var warning = Assert.Single(_warnings);
        Assert.Contains(Path.Combine(blocker, "cache"), warning);
        Assert.Contains(KernelDiskCache.DirectoryVariable, warning);
    }

    [Fact]
    public void NoDirectoryMeansMemoryOnlyWithoutWarning()
    {
        var compiler = new FakeKernelCompiler();
        var cache = new KernelCache(compiler, new KernelDiskCache(null, _ => throw new InvalidOperationException("no warning expected")));
        cache.GetOrCompile(Source, Arch);
        cache.GetOrCompile(Source, Arch);
        Assert.Equal(1, compiler.CompileCount);
        Assert.Null(cache.Disk.PathFor("00"));
    }

    [Fact]
    public void ConcurrentFirstCallersShareOneCompilation()
    {
        const int threads = 8;
        var compiler = new FakeKernelCompiler(delay: TimeSpan.FromMilliseconds(200));
        var cache = NewCache(compiler);
        using var start = new Barrier(threads);
        var results = new ConcurrentBag<CompiledKernel>();

        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            results.Add(cache.GetOrCompile(Source, Arch));
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());

        Assert.Equal(1, compiler.CompileCount);
        Assert.Equal(threads, results.Count);
        Assert.All(results, r => Assert.Same(results.First(), r));
    }

    [Fact]
    public void AFailedCompilationIsRetriedByTheNextCall()
    {
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(compiler);
        compiler.FailNextWith(new CudaException("transient"));

        Assert.Throws<CudaException>(() => cache.GetOrCompile(Source, Arch));
        var kernel = cache.GetOrCompile(Source, Arch);

        Assert.Equal(2, compiler.CompileCount);
        Assert.NotEmpty(kernel.Image);
    }

    [Fact]
    public void BadArchitectureIsAnArgumentError()
    {
        var cache = NewCache(new FakeKernelCompiler());
        var error = Assert.Throws<ArgumentException>(() => cache.GetOrCompile(Source, "sm90"));
        Assert.Equal("arch", error.ParamName);
    }

    [Fact]
    public void DefaultDirectoryFollowsTheEnvironment()
    {
        Func<string, string?> Env(params (string Name, string Value)[] vars) =>
            name => vars.FirstOrDefault(v => v.Name == name).Value;

        Assert.Equal("/x/cache", KernelDiskCache.DefaultDirectory(Env(("MOEOPGEN_CACHE_DIR", "/x/cache"), ("HOME", "/home/u"))));
        if (OperatingSystem.IsWindows()) return;
        Assert.Equal("/xdg/moeopgen", KernelDiskCache.DefaultDirectory(Env(("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u"))));
        Assert.Equal("/home/u/.cache/moeopgen", KernelDiskCache.DefaultDirectory(Env(("HOME", "/home/u"))));
        // The XDG spec says to ignore relative paths.
        Assert.Equal("/home/u/.cache/moeopgen", KernelDiskCache.DefaultDirectory(Env(("XDG_CACHE_HOME", "rel"), ("HOME", "/home/u"))));
        Assert.Null(KernelDiskCache.DefaultDirectory(Env()));
    }
}

/// <summary>The entry's payload checksum against published CRC-32C (Castagnoli) check values.</summary>
public class KernelCacheEntryChecksumTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xC1D04330u)]
    [InlineData("123456789", 0xE3069283u)]                                   // the catalogue's check value
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]   // eight-byte steps and a tail
    public void Crc32CMatchesTheCheckValues(string text, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(System.Text.Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void EveryFlippedBitOfAPayloadIsRejected()
    {
        var kernel = new CompiledKernel(Enumerable.Range(0, 37).Select(i => (byte)(i * 31)).ToArray(), KernelImageKind.Cubin, "");
        string key = new('a', 64);
        var entry = KernelCacheEntry.Serialize(key, kernel);
        Assert.NotNull(KernelCacheEntry.TryParse(key, entry, out _));
        for (int bit = 0; bit < 8 * kernel.Image.Length; bit++)
        {
            var damaged = (byte[])entry.Clone();
            damaged[KernelCacheEntry.HeaderSize + bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Null(KernelCacheEntry.TryParse(key, damaged, out var why));
            Assert.Contains("checksum", why);
        }
    }
}
