using System;
using System.Linq;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

[CudaModule]
public static class SampleCudaModules
{
    public static CudaSource First { get; } = new("sample_first", "extern \"C\" __global__ void a() {}");

    public static CudaSource Second { get; } = new("sample_second", "extern \"C\" __global__ void b() {}")
    {
        Options = ["-std=c++17"],
    };

    public static string NotASource => "ignored";

    internal static CudaSource NotPublic { get; } = new("sample_internal", "x");
}

public static class UnmarkedCudaModules
{
    public static CudaSource Ignored { get; } = new("sample_unmarked", "x");
}

public class CudaSourceTests
{
    [Fact]
    public void SourcesInFindsPublicStaticSourcesOfMarkedTypesOnly()
    {
        var names = CudaKernels.SourcesIn(typeof(CudaSourceTests).Assembly)
                               .Select(s => s.ModuleName)
                               .Where(n => n.StartsWith("sample_", StringComparison.Ordinal))
                               .ToList();
        Assert.Equal(["sample_first", "sample_second"], names);
    }

    [Fact]
    public void OptionsDefaultToNvrtcDefaults()
    {
        Assert.Same(NvrtcCompiler.DefaultOptions, SampleCudaModules.First.Options);
        Assert.Equal(["-std=c++17", "-default-device"], NvrtcCompiler.DefaultOptions);
        Assert.DoesNotContain("--use_fast_math", NvrtcCompiler.DefaultOptions);
        Assert.Equal(["-std=c++17"], SampleCudaModules.Second.Options);
    }

    [Fact]
    public void BlankNameOrEmptyCodeIsRejected()
    {
        Assert.Equal("ModuleName", Assert.Throws<ArgumentException>(() => new CudaSource(" ", "x")).ParamName);
        Assert.Equal("Code", Assert.Throws<ArgumentException>(() => new CudaSource("m", "")).ParamName);
        Assert.Throws<ArgumentNullException>(() => new CudaSource("m", "x") { Options = null! });
        Assert.Equal("Code", Assert.Throws<ArgumentException>(() => SampleCudaModules.First with { Code = "" }).ParamName);
    }

    [Fact]
    public void WithoutADriverCudaIsNotAvailable()
    {
        bool driverLoads;
        try
        {
            _ = CudaLibraries.Driver;
            driverLoads = true;
        }
        catch (CudaLibraryNotFoundException)
        {
            driverLoads = false;
        }
        Assert.SkipWhen(driverLoads, "This machine has a CUDA driver.");
        Assert.False(CudaKernels.IsAvailable);
        Assert.Throws<CudaLibraryNotFoundException>(() => CudaKernels.MultiprocessorCount(0));
    }
}

public class CudaDriverErrorTests
{
    /// <summary>Runs where libcuda loads but cuInit fails, e.g. Debian's libcuda1 on a machine without a GPU
    /// (MOEOPGEN_CUDA=/usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.1).</summary>
    [Fact]
    public void DriverErrorNamesTheCallAndTheError()
    {
        try
        {
            _ = CudaLibraries.Driver;
        }
        catch (CudaLibraryNotFoundException)
        {
            Assert.Skip("No CUDA driver library here.");
        }
        CudaException? initFailure = null;
        try
        {
            CudaDriver.EnsureInitialized();
        }
        catch (CudaException e)
        {
            initFailure = e;
        }
        Assert.SkipWhen(initFailure is null, "cuInit succeeds here (a GPU is present).");

        Assert.Equal("cuInit", initFailure!.Call);
        Assert.StartsWith("CUDA_ERROR_", initFailure.ErrorName);
        Assert.StartsWith($"cuInit failed: {initFailure.ErrorName} ({initFailure.ErrorCode})", initFailure.Message);
        Assert.False(CudaKernels.IsAvailable);
        TestContext.Current.TestOutputHelper?.WriteLine(initFailure.Message);
    }
}

/// <summary><see cref="CudaSource.CodeSha256"/>: the stated digest of generated modules, and what the runtime does
/// with a stated digest.</summary>
public class CudaSourceDigestTests : IDisposable
{
    private const string Code = "extern \"C\" __global__ void scale(float* x) { x[0] *= 2.f; }";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>.NET's SHA-256, not the runtime's: an independent computation of what the generator must state.</summary>
    private static string Sha256Hex(string text) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

    [Fact]
    public void EveryShippedModuleStatesTheDigestOfItsCode()
    {
        var sources = CudaKernels.SourcesIn(typeof(MoeOpGen.Ops.SwiGlu).Assembly).ToList();
        Assert.NotEmpty(sources);
        foreach (var source in sources)
        {
            Assert.NotNull(source.CodeSha256);
            Assert.True(Sha256Hex(source.Code) == source.CodeSha256, $"{source.ModuleName}: stated {source.CodeSha256}");
        }
    }

    [Fact]
    public void TheDigestBelongsToTheCodeItWasStatedWith()
    {
        var source = new CudaSource("scale", Code) { CodeSha256 = Sha256Hex(Code) };

        Assert.Equal(Sha256Hex(Code), source.CodeSha256);
        Assert.Equal(Sha256Hex(Code), (source with { Options = ["-DX"] }).CodeSha256);   // a compile unit keeps it
        Assert.Null((source with { Code = Code + " " }).CodeSha256);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0E39C956E1BD24B09CACF8FCF1486BC85AF142C6CDED631CAA63F756F4BCF620")]   // uppercase
    [InlineData("0e39c956e1bd24b09cacf8fcf1486bc85af142c6cded631caa63f756f4bcf62")]    // 63 digits
    [InlineData("0e39c956e1bd24b09cacf8fcf1486bc85af142c6cded631caa63f756f4bcf62g")]   // not hex
    public void AMalformedDigestIsRejectedNamingTheProperty(string digest)
    {
        var error = Assert.Throws<ArgumentException>(() => new CudaSource("scale", Code) { CodeSha256 = digest });
        Assert.Equal(nameof(CudaSource.CodeSha256), error.ParamName);
    }

    [Fact]
    public void AStatedDigestGivesTheKeyOfTheHashedCode()
    {
        var cache = new KernelCache(new FakeKernelCompiler(), new KernelDiskCache(_directory.Path, _ => { }));
        // Another string object with the same text: the digest is remembered per string, so this one is hashed.
        var hashed = new CudaSource("scale", new string(Code.ToCharArray()));
        var stated = new CudaSource("scale", new string(Code.ToCharArray())) { CodeSha256 = Sha256Hex(Code) };

        Assert.Equal(cache.KeyFor(hashed, "sm_90"), cache.KeyFor(stated, "sm_90"));
    }

    [Fact]
    public void AWrongStatedDigestStopsTheCompileAndWritesNothing()
    {
        var compiler = new FakeKernelCompiler();
        var cache = new KernelCache(compiler, new KernelDiskCache(_directory.Path, _ => { }));
        var wrong = new CudaSource("scale", Code) { CodeSha256 = Sha256Hex(Code + " ") };

        var error = Assert.Throws<CudaException>(() => cache.GetOrCompile(wrong, "sm_90"));

        Assert.Contains("CodeSha256", error.Message);
        Assert.Contains(Sha256Hex(Code), error.Message);   // the digest the code really has
        Assert.Equal(0, compiler.CompileCount);
        Assert.Empty(System.IO.Directory.GetFiles(_directory.Path));
        // The wrong digest stays with that source: one without a stated digest over the same string (equal literals
        // are one object) still gets the key of the hashed code, and compiles.
        var unstated = new CudaSource("scale", Code);
        Assert.NotEqual(cache.KeyFor(wrong, "sm_90"), cache.KeyFor(unstated, "sm_90"));
        cache.GetOrCompile(unstated, "sm_90");
        Assert.Equal(1, compiler.CompileCount);
    }
}
