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
