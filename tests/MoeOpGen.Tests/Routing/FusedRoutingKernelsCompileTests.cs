using System.Diagnostics;
using MoeOpGen.Cuda;
using MoeOpGen.Moe;
using Xunit;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// The fused routing module compiles with NVRTC for sm_80 and sm_90 and exports every kernel the launcher names.
/// Needs NVRTC but no GPU (CI installs Debian's libnvrtc11.2).
/// </summary>
public class FusedRoutingKernelsCompileTests(ITestOutputHelper output)
{
    /// <summary>So that <c>CudaKernels.Precompile(typeof(TokenPermutation).Assembly)</c> compiles it ahead of use.</summary>
    [Fact]
    public void The_routing_module_is_found_among_the_runtime_assembly_modules()
        => Assert.Contains(FusedRoutingCudaSource.Module, CudaKernels.SourcesIn(typeof(TokenPermutation).Assembly));

    [Theory]
    [InlineData("compute_80")]
    [InlineData("compute_90")]
    public void The_routing_module_compiles_and_exports_every_kernel(string arch)
    {
        Assert.SkipUnless(NvrtcCompiler.IsAvailable, "NVRTC is not installed (CI installs libnvrtc11.2).");
        var module = FusedRoutingCudaSource.Module;
        var clock = Stopwatch.StartNew();
        var compiled = NvrtcCompiler.Compile(module.Code, module.ModuleName + ".cu", arch, module.Options);
        output.WriteLine($"{module.ModuleName} {arch}: {compiled.Image.Length} bytes of {compiled.Kind} in {clock.ElapsedMilliseconds} ms (NVRTC {NvrtcCompiler.Version})");
        foreach (var kernel in FusedRoutingCudaSource.KernelNames)
            Assert.Contains($".entry {kernel}(", compiled.PtxText);
    }
}
