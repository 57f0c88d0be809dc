using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using MoeOpGen.Cuda;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Cuda;

/// <summary>Kernels launched on TorchSharp CUDA tensors. Skipped without a CUDA device.</summary>
[Trait("Category", "Gpu")]
public class CudaGpuTests
{
    private const int Device = 0;

    private static readonly CudaSource Kernels = new("runtime_test", """
        struct scalars2 { float v[2]; };
        struct scalars1 { float v[1]; };

        // y = a·x + b, with (a, b) passed by value as a struct of floats
        extern "C" __global__ void axpb(const float* __restrict__ x, float* __restrict__ y, long long n, scalars2 s)
        {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                y[i] = s.v[0] * x[i] + s.v[1];
        }

        extern "C" __global__ void add_one(float* x, long long n)
        {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                x[i] += 1.f;
        }

        // Echoes each scalar argument into out so the host can check the marshalling.
        extern "C" __global__ void echo(long long* out, int i, unsigned u, float f, long long l, int flag,
                                        scalars1 dummy, const float* null_pointer)
        {
            out[0] = i; out[1] = u; out[2] = __float_as_int(f); out[3] = l; out[4] = flag;
            out[5] = __float_as_int(dummy.v[0]); out[6] = null_pointer == nullptr;
        }

        // Reverses x through dynamic shared memory (one block).
        extern "C" __global__ void reverse_shared(const float* x, float* y, int n)
        {
            extern __shared__ float buffer[];
            for (int i = threadIdx.x; i < n; i += blockDim.x) buffer[i] = x[i];
            __syncthreads();
            for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = buffer[n - 1 - i];
        }
        """);

    private static void RequireCuda() =>
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device (or TorchSharp without CUDA).");

    private static uint Grid(long n, uint block) =>
        (uint)Math.Min((n + block - 1) / block, CudaKernels.MultiprocessorCount(Device) * 8L);

    [Fact]
    public void KernelMatchesTorch()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(1 << 20, device: torch.CUDA);
        var y = torch.empty_like(x);

        CudaKernels.GetFunction(Kernels, "axpb", Device).Launch(Grid(x.numel(), 256), 256, 0, x, y, x.numel(), new[] { 2f, 3f });

        Assert.True(torch.allclose(y, x * 2 + 3, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void ScalarArgumentsArriveIntact()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        var output = torch.full(7, -99L, dtype: ScalarType.Int64, device: torch.CUDA);

        CudaKernels.GetFunction(Kernels, "echo", Device)
                   .Launch(1, 1, 0, output, -7, 4_000_000_000u, 1.25f, -1L << 40, true, Array.Empty<float>(), (Tensor?)null);

        var got = output.cpu().data<long>().ToArray();
        Assert.Equal([-7L, 4_000_000_000L, BitConverter.SingleToInt32Bits(1.25f), -1L << 40, 1L, 0L, 1L], got);
    }

    [Fact]
    public void OrderedWithTorchOnStreamZeroWithoutSynchronize()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        const long n = 1 << 24;   // large enough that a missing dependency would read stale data
        var addOne = CudaKernels.GetFunction(Kernels, "add_one", Device);
        for (int round = 0; round < 3; round++)
        {
            var x = torch.arange(n, dtype: ScalarType.Float32, device: torch.CUDA).mul_(0f);   // torch writes
            addOne.Launch(Grid(n, 256), 256, 0, x, n);                                          // kernel reads, writes
            addOne.Launch(Grid(n, 256), 256, 0, x, n);
            var doubled = x * 2;                                                                 // torch reads
            Assert.Equal(4.0 * n, doubled.sum(ScalarType.Float64).item<double>());
        }
    }

    [Fact]
    public void LaunchesFromAThreadWithoutAContext()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(4096, device: torch.CUDA);
        var y = torch.zeros_like(x);
        var axpb = CudaKernels.GetFunction(Kernels, "axpb", Device);
        Exception? failure = null;
        bool contextBefore = true, contextAfter = false;

        var thread = new Thread(() =>
        {
            try
            {
                contextBefore = CurrentContext() != IntPtr.Zero;
                axpb.Launch(16, 256, 0, x, y, x.numel(), new[] { -1f, 0.5f });
                contextAfter = CurrentContext() == CudaDevice.Get(Device).PrimaryContext;
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();

        Assert.Null(failure);
        Assert.False(contextBefore);   // a fresh thread has no current context: the launch had to set it
        Assert.True(contextAfter);
        Assert.True(torch.allclose(y, 0.5f - x, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void MoreThan48KiBOfDynamicSharedMemory()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        const int n = 24 * 1024;   // 96 KiB of floats: needs the opt-in (sm_70 and later allow it)
        var x = torch.randn(n, device: torch.CUDA);
        var y = torch.empty_like(x);

        CudaKernels.GetFunction(Kernels, "reverse_shared", Device).Launch(1, 512, n * sizeof(float), x, y, n);

        Assert.True(torch.allclose(y, x.flip(0), rtol: 0, atol: 0));   // a pure copy: exact
    }

    [Fact]
    public void TensorOnAnotherDeviceIsRejected()
    {
        RequireCuda();
        using var cpu = torch.zeros(4);
        var error = Assert.Throws<ArgumentException>(
            () => CudaKernels.GetFunction(Kernels, "add_one", Device).Launch(1, 32, 0, cpu, 4L));
        Assert.Contains("Argument 0", error.Message);
    }

    [Fact]
    public void UnknownKernelNameIsACudaError()
    {
        RequireCuda();
        var error = Assert.Throws<CudaException>(() => CudaKernels.GetFunction(Kernels, "no_such_kernel", Device));
        Assert.Equal("cuModuleGetFunction", error.Call);
        Assert.Contains("no_such_kernel", error.Message);
    }

    [Fact]
    public void StopwatchTimesGpuWork()
    {
        RequireCuda();
        using var scope = torch.NewDisposeScope();
        var x = torch.zeros(1 << 24, device: torch.CUDA);
        var addOne = CudaKernels.GetFunction(Kernels, "add_one", Device);
        using var stopwatch = new CudaStopwatch(Device);

        stopwatch.Start();
        for (int i = 0; i < 10; i++) addOne.Launch(Grid(x.numel(), 256), 256, 0, x, x.numel());
        float milliseconds = stopwatch.Stop();

        Assert.True(milliseconds > 0, $"{milliseconds} ms");
        Assert.Equal(10f, x[0].item<float>());
        TestContext.Current.TestOutputHelper?.WriteLine($"10 × add_one over 16M floats: {milliseconds:F3} ms");
    }

    [Fact]
    public void ColdCompileAndWarmDiskLoadTimes()
    {
        RequireCuda();
        using var directory = new TempDirectory();
        // A source no earlier run has seen, so the first load really compiles.
        var fresh = Kernels with { Code = Kernels.Code + $"\n// {Guid.NewGuid():N}\n" };
        var (coldMs, coldCompiles) = TimeFirstLoad(fresh, directory.Path);
        var (warmMs, warmCompiles) = TimeFirstLoad(fresh, directory.Path);   // new cache instance, same directory

        Assert.Equal(1, coldCompiles);
        Assert.Equal(0, warmCompiles);
        Assert.Single(Directory.GetFiles(directory.Path, "*.kernel"));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"NVRTC {NvrtcCompiler.Version}: cold compile + load {coldMs:F1} ms; warm disk load {warmMs:F1} ms");
    }

    [Fact]
    public void OneWaveGridIsTheResidentBlocksOfEveryMultiprocessor()
    {
        RequireCuda();
        var kernel = CudaKernels.GetFunction(Kernels, "axpb", Device);
        int sms = CudaKernels.MultiprocessorCount(Device);

        uint full = kernel.OneWaveGrid(256, 0, long.MaxValue);
        uint withShared = kernel.OneWaveGrid(256, 64 * 1024, long.MaxValue);

        Assert.Equal(0u, full % (uint)sms);
        Assert.InRange(full / (uint)sms, 1u, 8u);                  // at most 2048 threads of 256 per SM
        Assert.InRange(withShared / (uint)sms, 1u, full / (uint)sms); // 64 KiB each: fewer fit
        Assert.True(withShared < full, $"{withShared} blocks with 64 KiB of shared memory, {full} without");
        Assert.Equal(5u, kernel.OneWaveGrid(256, 0, 5));           // capped by the work
    }

    [Fact]
    public void PrecompileWarmsTheUnitsLaunchesUse()
    {
        RequireCuda();
        var registry = CudaModuleRegistry.Shared;
        Assert.SkipUnless(registry.Cache.Disk.IsWritable, "The kernel cache is in memory only here.");
        const string kernel = "swiglu_fwd_bf16_wb";

        int units = CudaKernels.Precompile([MoeOpGen.Ops.SwiGlu.CudaSource], Device, name => name == kernel);

        Assert.Equal(1, units);
        var unit = registry.CompileUnit(MoeOpGen.Ops.SwiGlu.CudaSource, kernel);
        var key = registry.Cache.KeyFor(unit, registry.TargetFor(CudaDevice.Get(Device)));
        Assert.NotNull(registry.Cache.Disk.TryRead(key, out var rejection));
        Assert.Null(rejection);
        Assert.Same(unit, registry.CompileUnit(MoeOpGen.Ops.SwiGlu.CudaSource, kernel));
    }

    private static (double Milliseconds, int Compiles) TimeFirstLoad(CudaSource source, string directory)
    {
        var compiler = new CountingCompiler();
        var registry = new CudaModuleRegistry(new KernelCache(compiler, new KernelDiskCache(directory, _ => { })));
        var watch = Stopwatch.StartNew();
        registry.GetFunction(source, "axpb", Device);
        return (watch.Elapsed.TotalMilliseconds, compiler.Count);
    }

    private static IntPtr CurrentContext()
    {
        CudaDriver.Check(MoeOpGen.Cuda.Interop.CudaDriverNative.cuCtxGetCurrent(out IntPtr context), "cuCtxGetCurrent");
        return context;
    }

    private sealed class CountingCompiler : IKernelCompiler
    {
        public int Count;
        public string Version => NvrtcKernelCompiler.Instance.Version;
        public System.Collections.Generic.IReadOnlyList<int> SupportedArchitectures => NvrtcKernelCompiler.Instance.SupportedArchitectures;
        public CompiledKernel Compile(string source, string name, string arch, System.Collections.Generic.IReadOnlyList<string> options)
        {
            Interlocked.Increment(ref Count);
            return NvrtcKernelCompiler.Instance.Compile(source, name, arch, options);
        }
    }
}
