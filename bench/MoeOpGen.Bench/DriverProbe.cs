using System;
using System.Collections.Generic;
using System.Diagnostics;
using MoeOpGen.Cuda;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Bench;

/// <summary>
/// The CUDA driver's own cost of loading a module, with none of MoeOpGen's load path around it: a one-line kernel,
/// compiled by NVRTC beforehand, is loaded twice straight through the driver API. The first load is the process's
/// first <c>cuModuleLoadData</c> (when run before any kernel of ours), the second shows the steady cost; their
/// difference is what the driver charges once per process. Each load is timed as <c>cuModuleLoadData</c>,
/// <c>cuModuleGetFunction</c> and <c>cuFuncGetAttribute</c>: under lazy loading (<c>CUDA_MODULE_LOADING=LAZY</c>)
/// the function is put on the device only when first needed, which an attribute query forces.
/// </summary>
internal static class DriverProbe
{
    private const string KernelName = "mog_bench_probe";
    private const string Source = "extern \"C\" __global__ void " + KernelName + "(float* x) { if (x) x[0] = 1.f; }";

    /// <summary>The trivial kernel compiled for <paramref name="arch"/> (also NVRTC's first-call warm-up).</summary>
    public static CompiledKernel Compile(string arch) =>
        NvrtcCompiler.Compile(Source, KernelName + ".cu", arch, NvrtcCompiler.DefaultOptions);

    /// <summary>Loads <paramref name="image"/> twice on device <paramref name="deviceIndex"/>; milliseconds per
    /// step and the major page faults of the first load. The modules are never unloaded (a bench process ends soon).</summary>
    public static Dictionary<string, object?> Measure(CompiledKernel image, int deviceIndex)
    {
        CudaDevice.Get(deviceIndex).MakeCurrent();
        var m = new Dictionary<string, object?>();
        long faults = PageFaults.Major();
        m["first"] = LoadOnce(image);
        m["first_major_page_faults"] = faults < 0 ? -1 : PageFaults.Major() - faults;
        m["second"] = LoadOnce(image);
        return m;
    }

    /// <summary>Whether the driver loads modules eagerly or lazily, as it reports it (CUDA 11.7+).</summary>
    public static string LoadingMode()
    {
        try
        {
            CudaDriver.Check(cuModuleGetLoadingMode(out int mode), nameof(cuModuleGetLoadingMode));
            return mode switch
            {
                CU_MODULE_EAGER_LOADING => "EAGER",
                CU_MODULE_LAZY_LOADING => "LAZY",
                _ => $"mode {mode}",
            };
        }
        catch (EntryPointNotFoundException)
        {
            return "unknown (driver before CUDA 11.7)";
        }
    }

    private static unsafe Dictionary<string, double> LoadOnce(CompiledKernel image)
    {
        var steps = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();
        IntPtr module;
        fixed (byte* p = image.Image)
            CudaDriver.Check(cuModuleLoadData(out module, p), nameof(cuModuleLoadData));
        steps["cuModuleLoadData"] = Lap(clock);
        CudaDriver.Check(cuModuleGetFunction(out IntPtr function, module, KernelName), nameof(cuModuleGetFunction));
        steps["cuModuleGetFunction"] = Lap(clock);
        CudaDriver.Check(cuFuncGetAttribute(out _, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, function), nameof(cuFuncGetAttribute));
        steps["cuFuncGetAttribute"] = Lap(clock);
        steps["total"] = Math.Round(steps["cuModuleLoadData"] + steps["cuModuleGetFunction"] + steps["cuFuncGetAttribute"], 3);
        return steps;
    }

    private static double Lap(Stopwatch clock)
    {
        double ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        return Math.Round(ms, 3);
    }
}
