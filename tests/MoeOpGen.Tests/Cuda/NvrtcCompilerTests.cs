using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>Real NVRTC, no GPU needed. Skipped where no libnvrtc can be found (CI installs Debian's libnvrtc11.2).</summary>
public class NvrtcCompilerTests
{
    private const string Kernel = """
        struct scalars2 { float v[2]; };
        extern "C" __global__ void axpb(const float* __restrict__ x, float* __restrict__ y, long long n, scalars2 s)
        {
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i < n) y[i] = s.v[0] * x[i] + s.v[1];
        }
        """;

    private static void RequireNvrtc() =>
        Assert.SkipUnless(NvrtcCompiler.IsAvailable,
            "NVRTC not found (install libnvrtc11.2 from Debian non-free, a CUDA toolkit, or set MOEOPGEN_NVRTC).");

    [Theory]
    [InlineData("compute_80")]
    [InlineData("compute_90")]
    public void CompilesPtxForAVirtualArchitecture(string arch)
    {
        RequireNvrtc();
        var kernel = NvrtcCompiler.Compile(Kernel, "axpb.cu", arch, NvrtcCompiler.DefaultOptions);

        Assert.Equal(KernelImageKind.Ptx, kernel.Kind);
        Assert.Equal(0, kernel.Image[^1]);   // NUL-terminated, as cuModuleLoadData needs
        Assert.Contains(".target sm_" + arch["compute_".Length..], kernel.PtxText);
        Assert.Contains(".entry axpb(", kernel.PtxText);
    }

    [Theory]
    [InlineData("sm_80")]
    [InlineData("sm_90")]
    public void CompilesACubinForARealArchitecture(string arch)
    {
        RequireNvrtc();
        var kernel = NvrtcCompiler.Compile(Kernel, "axpb.cu", arch, NvrtcCompiler.DefaultOptions);

        Assert.Equal(KernelImageKind.Cubin, kernel.Kind);
        Assert.Equal("\x7f" + "ELF", System.Text.Encoding.ASCII.GetString(kernel.Image, 0, 4));
        Assert.Throws<InvalidOperationException>(() => kernel.PtxText);
    }

    [Fact]
    public void CompileErrorCarriesTheLogOptionsAndNumberedSource()
    {
        RequireNvrtc();
        var source = "extern \"C\" __global__ void k(float* x)\n{\n    x[0] = undefined_name;\n}\n";

        var error = Assert.Throws<CudaCompileException>(
            () => NvrtcCompiler.Compile(source, "broken.cu", "sm_80", NvrtcCompiler.DefaultOptions));

        Assert.Equal("NVRTC_ERROR_COMPILATION", error.NvrtcErrorName);
        Assert.Contains("undefined_name", error.Log);
        Assert.Contains("broken.cu(3)", error.Log);   // NVRTC points at line 3 of the numbered listing
        Assert.Contains(error.Log.Trim(), error.Message);
        Assert.Contains("-std=c++17 -default-device --gpu-architecture=sm_80", error.Message);
        Assert.Contains("3 |     x[0] = undefined_name;", error.Message);
    }

    [Fact]
    public void ReportsVersionAndSupportedArchitectures()
    {
        RequireNvrtc();
        Assert.True(NvrtcCompiler.Version >= new Version(11, 2), NvrtcCompiler.Version.ToString());
        Assert.Contains(80, NvrtcCompiler.SupportedArchitectures);
        Assert.True(File.Exists(NvrtcCompiler.LibraryLocation) || !NvrtcCompiler.LibraryLocation.Contains('/'),
                    NvrtcCompiler.LibraryLocation);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"NVRTC {NvrtcCompiler.Version} from {NvrtcCompiler.LibraryLocation}; archs {string.Join(",", NvrtcCompiler.SupportedArchitectures)}");
    }

    [Fact]
    public void ConcurrentCompilationsMatchSerialOnes()
    {
        // Precompile compiles modules in parallel, which relies on NVRTC being safe for distinct programs.
        RequireNvrtc();
        var sources = Enumerable.Range(0, 8).Select(i => Kernel.Replace("s.v[1]", $"s.v[1] + {i}.0f")).ToArray();
        var serial = sources.Select(s => NvrtcCompiler.Compile(s, "axpb.cu", "sm_80", NvrtcCompiler.DefaultOptions).Image).ToArray();

        var parallel = new byte[sources.Length][];
        Parallel.For(0, sources.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
                     i => parallel[i] = NvrtcCompiler.Compile(sources[i], "axpb.cu", "sm_80", NvrtcCompiler.DefaultOptions).Image);

        Assert.Equal(sources.Length, serial.Distinct(new ByteArrayComparer()).Count());
        for (int i = 0; i < sources.Length; i++) Assert.Equal(serial[i], parallel[i]);
    }

    private sealed class ByteArrayComparer : System.Collections.Generic.IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] bytes) => bytes.Length;
    }

    [Fact]
    public void ArchitectureInTheOptionsIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(
            () => NvrtcCompiler.Compile(Kernel, "axpb.cu", "sm_80", ["-arch=sm_90"]));
        Assert.Equal("options", error.ParamName);
    }

    [Fact]
    public void RealCompilerThroughTheDiskCache()
    {
        RequireNvrtc();
        using var directory = new TempDirectory();
        var counting = new CountingCompiler(NvrtcKernelCompiler.Instance);
        var source = new CudaSource("axpb", Kernel);

        var cold = new KernelCache(counting, new KernelDiskCache(directory.Path, _ => { })).GetOrCompile(source, "sm_80");
        var warm = new KernelCache(counting, new KernelDiskCache(directory.Path, _ => { })).GetOrCompile(source, "sm_80");

        Assert.Equal(1, counting.Count);
        Assert.Equal(cold.Image, warm.Image);
    }

    private sealed class CountingCompiler(IKernelCompiler inner) : IKernelCompiler
    {
        public int Count;
        public string Version => inner.Version;
        public System.Collections.Generic.IReadOnlyList<int> SupportedArchitectures => inner.SupportedArchitectures;
        public CompiledKernel Compile(string source, string name, string arch, System.Collections.Generic.IReadOnlyList<string> options)
        {
            System.Threading.Interlocked.Increment(ref Count);
            return inner.Compile(source, name, arch, options);
        }
    }
}
