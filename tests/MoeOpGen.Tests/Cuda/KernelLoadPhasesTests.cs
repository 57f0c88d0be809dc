using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>The phase timings of the kernel-load path (KernelLoadPhases), on the cache with a fake compiler.</summary>
public class KernelLoadPhasesTests : System.IDisposable
{
    private const string Arch = "sm_90";
    private static readonly CudaSource Source = new("phases", "extern \"C\" __global__ void phases(float* x) { x[0] = 1.f; }");
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        KernelLoadPhases.ThreadListener = null;
        _directory.Dispose();
    }

    private KernelCache NewCache() => new(new FakeKernelCompiler(), new KernelDiskCache(_directory.Path, _ => { }));

    private static List<(string Phase, double Ms)> Listen(System.Action load)
    {
        var heard = new List<(string, double)>();
        KernelLoadPhases.ThreadListener = (phase, ms) => heard.Add((phase, ms));
        try
        {
            load();
        }
        finally
        {
            KernelLoadPhases.ThreadListener = null;
        }
        return heard;
    }

    [Fact]
    public void ColdLoadReportsVersionKeyDiskReadCompileAndWriteInOrder()
    {
        var cache = NewCache();

        var heard = Listen(() => cache.GetOrCompile(Source, Arch));

        Assert.Equal([KernelLoadPhases.CompilerVersion, KernelLoadPhases.CacheKey, KernelLoadPhases.DiskRead, KernelLoadPhases.NvrtcCompile,
                      KernelLoadPhases.DiskWrite],
                     heard.Select(h => h.Phase));
        Assert.All(heard, h => Assert.True(h.Ms >= 0));
    }

    [Fact]
    public void WarmDiskLoadReportsNoCompileAndAMemoryHitOnlyTheKey()
    {
        NewCache().GetOrCompile(Source, Arch);
        var cache = NewCache();

        var fromDisk = Listen(() => cache.GetOrCompile(Source, Arch));
        var fromMemory = Listen(() => cache.GetOrCompile(Source, Arch));

        Assert.Equal([KernelLoadPhases.CompilerVersion, KernelLoadPhases.CacheKey, KernelLoadPhases.DiskRead, KernelLoadPhases.EntryCheck],
                     fromDisk.Select(h => h.Phase));
        Assert.Equal([KernelLoadPhases.CacheKey], fromMemory.Select(h => h.Phase));
    }

    [Fact]
    public void ThePerKernelCompileUnitIsTimedOnceForEachKernel()
    {
        var source = new CudaSource("units", "#if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_a)\nextern \"C\" __global__ void a() {}\n#endif\n")
        {
            CompiledPerKernel = true,
        };
        var registry = new CudaModuleRegistry(NewCache());

        var first = Listen(() => registry.CompileUnit(source, "a"));
        var again = Listen(() => registry.CompileUnit(source, "a"));

        Assert.Equal([KernelLoadPhases.CompileUnit], first.Select(h => h.Phase));
        Assert.Empty(again);
    }

    [Fact]
    public void AListenerHearsOnlyItsOwnThread()
    {
        var cache = NewCache();
        // A thread of its own: Task.Wait may run a task inline on the waiting thread.
        var other = new Thread(() => cache.GetOrCompile(Source, Arch));

        var heard = Listen(() => { other.Start(); other.Join(); });

        Assert.Empty(heard);
        Assert.Equal(0, KernelLoadPhases.Start());   // and none is left installed on this thread
    }
}
