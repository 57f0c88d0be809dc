using System.Diagnostics;
using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Ops;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>
/// Every generated CUDA module (every operator × variant × dtype) compiles with NVRTC for sm_75, sm_80 and sm_90:
/// sm_75 takes the preamble's integer forms of the conversions that are instructions from sm_80 (bf16 pairs) and
/// sm_89 (FP8). Needs NVRTC but no GPU: CI installs Debian's libnvrtc11.2 (CUDA 11.8) and compiles to PTX for each
/// (all entry points at once, with -DMOG_ALL_KERNELS; at run time each kernel is compiled on its own).
/// </summary>
public class GeneratedKernelsCompileTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Modules()
    {
        var data = new TheoryData<string, string>();
        foreach (var source in CudaKernels.SourcesIn(typeof(SwiGlu).Assembly))
            foreach (var arch in new[] { "compute_75", "compute_80", "compute_90" })
                data.Add(source.ModuleName, arch);
        return data;
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void ModuleCompiles(string module, string arch)
    {
        Assert.SkipUnless(NvrtcCompiler.IsAvailable, "NVRTC is not installed (CI installs libnvrtc11.2).");
        var source = CudaKernels.SourcesIn(typeof(SwiGlu).Assembly).Single(s => s.ModuleName == module);
        var clock = Stopwatch.StartNew();
        var compiled = NvrtcCompiler.Compile(source.Code, module + ".cu", arch, [.. source.Options, "-DMOG_ALL_KERNELS"]);
        output.WriteLine($"{module} {arch}: {compiled.Image.Length} bytes of {compiled.Kind} in {clock.ElapsedMilliseconds} ms (NVRTC {NvrtcCompiler.Version})");
        Assert.True(compiled.Image.Length > 0);
        foreach (var kernel in ExpectedKernels(source))
            Assert.Contains(kernel, System.Text.Encoding.ASCII.GetString(compiled.Image));
    }

    [Fact]
    public void EveryShippedOperatorHasAModule()
    {
        var names = CudaKernels.SourcesIn(typeof(SwiGlu).Assembly).Select(s => s.ModuleName).ToArray();
        Assert.Equal(["geglu", "gegluerf", "quickgeglu", "quickgelu", "reglu", "silu", "situglu", "squaredreglu", "squaredrelu", "swiglu"], names.Order());
    }

    /// <summary>A few entry points every module must export under its stable name.</summary>
    private static string[] ExpectedKernels(CudaSource source)
        => source.Code.Contains("mog_gated_forward")
            ? [$"{source.ModuleName}_fwd_bf16_wbcf", $"{source.ModuleName}_fwd_bf16_wbcf_v16", $"{source.ModuleName}_bwd_f32", $"{source.ModuleName}_bwd_bf16_wbcf", $"{source.ModuleName}_bwd_f16_wb_v16", $"{source.ModuleName}_reduce_bias_f16", $"{source.ModuleName}_reduce_weights"]
            : [$"{source.ModuleName}_fwd_bf16", $"{source.ModuleName}_bwd_f32"];
}
