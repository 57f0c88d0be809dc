using System;
using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Ops;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>
/// Generated modules are compiled kernel by kernel: the unit of kernel k is the module with -DMOG_KERNEL_k, the
/// same object for every launch (so the source is hashed once) and the same cache entry Precompile warms.
/// </summary>
public class PerKernelModuleTests
{
    private static readonly CudaSource TwoKernels = new("two", """
        #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_first)
        extern "C" __global__ void first() {}
        #endif
        #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_second)
        extern "C" __global__ void second() {}
        #endif
        """) { CompiledPerKernel = true };

    [Fact]
    public void KernelNamesComeFromTheGuards()
    {
        Assert.Equal(["first", "second"], TwoKernels.KernelNames);
        Assert.Empty((TwoKernels with { CompiledPerKernel = false }).KernelNames);
    }

    [Fact]
    public void TheUnitOfAKernelDefinesOnlyItsMacro()
    {
        var unit = TwoKernels.CompileUnit("second");
        Assert.Equal([.. TwoKernels.Options, "-DMOG_KERNEL_second"], unit.Options);
        Assert.False(unit.CompiledPerKernel);
        Assert.Equal(TwoKernels.Code, unit.Code);
        var whole = TwoKernels with { CompiledPerKernel = false };
        Assert.Same(whole, whole.CompileUnit("anything"));
    }

    [Fact]
    public void AnUnknownKernelNameIsRejectedBeforeCompiling()
    {
        var e = Assert.Throws<ArgumentException>(() => TwoKernels.CompileUnit("third"));
        Assert.Equal("kernelName", e.ParamName);
        Assert.Contains("'two'", e.Message);
    }

    [Fact]
    public void CompileUnitAcceptsExactlyTheGuardedNames()
    {
        // Every name the guards list has a unit, in every shipped module; a prefix of a name, a name only mentioned in
        // a comment and an unguarded function have none.
        foreach (var source in CudaKernels.SourcesIn(typeof(SwiGlu).Assembly))
            Assert.All(source.KernelNames, n => Assert.Contains("-DMOG_KERNEL_" + n, source.CompileUnit(n).Options));
        var tricky = new CudaSource("tricky", """
            // #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_commented)
              #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_indented_kernel)
            extern "C" __global__ void indented_kernel() {}
            #endif
            extern "C" __global__ void unguarded() {}
            """) { CompiledPerKernel = true };
        Assert.Equal(["indented_kernel"], tricky.KernelNames);
        Assert.NotNull(tricky.CompileUnit("indented_kernel"));
        foreach (var name in new[] { "indented", "commented", "unguarded", "swiglu_fwd_bf1" })
            Assert.Throws<ArgumentException>(() => tricky.CompileUnit(name));
        Assert.Throws<ArgumentException>(() => SwiGlu.CudaSource.CompileUnit("swiglu_fwd_bf1"));
    }

    [Fact]
    public void TheRegistryHandsOutOneUnitPerKernelAndSource()
    {
        using var directory = new TempDirectory();
        var registry = new CudaModuleRegistry(new KernelCache(new FakeKernelCompiler(), new KernelDiskCache(directory.Path, _ => { })));
        var first = registry.CompileUnit(TwoKernels, "first");
        Assert.Same(first, registry.CompileUnit(TwoKernels, "first"));
        Assert.NotEqual(registry.Cache.KeyFor(first, "sm_90"), registry.Cache.KeyFor(registry.CompileUnit(TwoKernels, "second"), "sm_90"));
    }

    [Fact]
    public void EveryGeneratedModuleIsPerKernelWithTheLaunchersNames()
    {
        foreach (var source in CudaKernels.SourcesIn(typeof(SwiGlu).Assembly))
        {
            Assert.True(source.CompiledPerKernel, source.ModuleName);
            var names = source.KernelNames;
            Assert.Equal(names.Count, names.Distinct().Count());
            Assert.All(names, n => Assert.StartsWith(source.ModuleName + "_", n));
        }
        // A gated module: fwd and bwd × 3 dtypes × 16 variants (w, b, c, f subsets), a _v16 fwd and bwd of each of
        // the 8 variants with a bias, a bias reduction per dtype and one weights-gradient reduction (fp32, any dtype).
        var swiglu = SwiGlu.CudaSource.KernelNames;
        Assert.Equal(3 * (16 * 2 + 2 * 8 + 1) + 1, swiglu.Count);
        Assert.Contains("swiglu_bwd_bf16_wbcf_v16", swiglu);
        Assert.Contains("swiglu_fwd_bf16_wbcf_v16", swiglu);
        Assert.DoesNotContain("swiglu_fwd_bf16_wcf_v16", swiglu);   // no _v16 without a bias
        Assert.Contains("swiglu_fwd_bf16_wbcf", swiglu);
        Assert.Contains("swiglu_reduce_bias_f32", swiglu);
        Assert.Contains("swiglu_reduce_weights", swiglu);
    }
}
