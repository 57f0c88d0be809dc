using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using MoeOpGen.Cuda;
using MoeOpGen.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// <c>bench compile</c>, issue 3's measurement: (a) loading libtorch's CUDA side, the driver and NVRTC; (b) a cold
/// compile of one real operator's kernels with an empty cache directory, per kernel as the runtime compiles them
/// (module + <c>-DMOG_KERNEL_&lt;name&gt;</c>), plus NVRTC alone and the whole module with <c>-DMOG_ALL_KERNELS</c>;
/// (c) new processes loading the same kernels from the warm disk cache; (d) the first-process total from process
/// start to the first kernels done, library loading included, measured in a new process with an empty cache.
/// </summary>
/// <remarks>
/// <para>The operator is SwiGLU with token weights in bf16, the GPT-OSS / Mixtral expert activation: its forward and
/// backward kernels. Processes (c) and (d) run this executable's hidden <c>compile-child</c> command and time from
/// just before <c>Process.Start</c> (wall clock, passed on the command line) to their last step.</para>
/// <para>Every kernel load is also broken down by phase (<see cref="LoadTiming"/>) and counts the major page faults
/// it took (<see cref="PageFaults"/>), to explain two numbers of the first H100 runs (docs/gpu.md): the ~40 ms of a
/// process's first warm-cache load against 1 ms for the next, and the 544–876 ms of the first cold compiles in this
/// process against 122 ms in a fresh one. For the first, extra warm-cache processes load a trivial kernel straight
/// through the driver before ours (<see cref="DriverProbe"/>), also under <c>CUDA_MODULE_LOADING=EAGER</c> and
/// <c>LAZY</c>. For the second, this process compiles a trivial kernel with NVRTC (NVRTC's first-call warm-up),
/// probes the driver, and runs the whole load path once on a throwaway kernel (its JIT) before the SwiGLU kernels,
/// each timed apart.</para>
/// </remarks>
internal static class CompileBench
{
    public static readonly string[] Kernels = ["swiglu_fwd_bf16_w", "swiglu_bwd_bf16_w"];

    private const string ChildMarker = "COMPILE-CHILD ";
    private const int WarmChildren = 3;
    private const string ModuleLoadingVariable = "CUDA_MODULE_LOADING";

    private const string ThrowawayKernel = "mog_bench_throwaway";

    /// <summary>A per-kernel module of one trivial kernel, compiled cold through the runtime before the SwiGLU
    /// kernels: it takes the load path's first-call costs (JIT, the runtime's lazily created objects) out of their
    /// figures and shows them apart.</summary>
    private static readonly CudaSource Throwaway = new(
        "compile_bench_throwaway",
        $"#if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_{ThrowawayKernel})\n"
        + $"extern \"C\" __global__ void {ThrowawayKernel}(float* x) {{ if (x) x[0] = 2.f; }}\n#endif\n")
    {
        CompiledPerKernel = true,
    };

    public static int Run(string deviceKind, string outDir)
    {
        // Before anything creates the runtime's kernel cache (it reads the variable once): an empty directory.
        string root = Path.Combine(Path.GetFullPath(outDir), "compile-cache");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        string inProcessCache = Path.Combine(root, "in-process");
        Environment.SetEnvironmentVariable(KernelDiskCache.DirectoryVariable, inProcessCache);
        bool cuda = deviceKind == "cuda";

        var m = new Dictionary<string, object?>();
        var notes = new List<string>();
        m["kernels"] = Kernels;
        m["main_entered_since_process_start_ms"] = SinceProcessStartMs();

        // (a) libraries
        m["libtorch_init_ms"] = Time(() => { InitializeDeviceType(cuda ? DeviceType.CUDA : DeviceType.CPU); _ = torch.cuda.is_available(); });
        if (cuda && !CudaKernels.IsAvailable)
            throw new BenchRefusedException("No CUDA device is usable here; `bench compile --device cpu` measures the NVRTC parts alone.");
        int cc = 90;
        if (cuda)
        {
            m["driver_init_ms"] = Time(() => { var (major, minor) = CudaKernels.ComputeCapability(0); cc = major * 10 + minor; });
        }
        m["nvrtc_load_ms"] = Time(() => _ = NvrtcCompiler.Version);
        m["nvrtc_version"] = NvrtcCompiler.Version.ToString();
        m["nvrtc_library"] = NvrtcCompiler.LibraryLocation;
        string arch = CudaArchitecture.SelectTarget(cc, NvrtcCompiler.SupportedArchitectures);
        m["arch"] = arch;
        m["device"] = cuda ? $"compute capability {cc / 10}.{cc % 10}" : "none (cpu dry run: arch sm_90 assumed)";
        m["cuda_module_loading_env"] = Environment.GetEnvironmentVariable(ModuleLoadingVariable) ?? "(unset)";
        if (cuda) m["cuda_module_loading_mode"] = DriverProbe.LoadingMode();

        // (b) in process, first what any first compile pays apart: NVRTC's first call (builtins library, LLVM
        // set-up, and the code pages of libnvrtc read from disk if the page cache lacks them), the driver's first
        // module load, and the runtime's load path once on a throwaway kernel; then the cold compiles.
        long faults = PageFaults.Major();
        CompiledKernel probeImage = null!;
        m["nvrtc_trivial_compile_first_ms"] = Time(() => probeImage = DriverProbe.Compile(arch));
        m["nvrtc_trivial_compile_first_major_page_faults"] = FaultsSince(faults);
        m["nvrtc_trivial_compile_second_ms"] = Time(() => DriverProbe.Compile(arch));
        if (cuda)
        {
            m["primary_context_ms"] = Time(() => CudaKernels.MemoryInfo(0));
            m["driver_probe"] = DriverProbe.Measure(probeImage, 0);
        }
        var throwaway = LoadTiming.Measure(() => LoadKernel(cuda, Throwaway, ThrowawayKernel, cc));
        m["throwaway_kernel_load_ms"] = throwaway.TotalMs;
        m["throwaway_kernel_load_phases_ms"] = throwaway.PhasesWithRest();
        m["throwaway_kernel_load_major_page_faults"] = throwaway.MajorPageFaults;
        var cold = Kernels.ToDictionary(k => k, k => LoadTiming.Measure(() => LoadKernel(cuda, SwiGlu.CudaSource, k, cc)));
        m["cold_get_function_ms"] = cold.ToDictionary(kv => kv.Key, kv => kv.Value.TotalMs);
        m["cold_get_function_total_ms"] = Math.Round(cold.Values.Sum(t => t.TotalMs), 2);
        m["cold_get_function_phases_ms"] = cold.ToDictionary(kv => kv.Key, kv => kv.Value.PhasesWithRest());
        m["cold_get_function_major_page_faults"] = cold.ToDictionary(kv => kv.Key, kv => kv.Value.MajorPageFaults);
        if (cuda)
        {
            m["first_launch_after_compile_ms"] = Time(LaunchForwardBackward);
        }
        else
        {
            notes.Add("cpu dry run: no device, so the load path stops before the driver (no cuModuleLoadData, no launch, "
                + "no driver probe); NVRTC, disk-cache and host-side timings are real");
        }
        var units = Kernels.Select(k => SwiGlu.CudaSource.CompileUnit(k)).ToArray();
        var nvrtcOnly = new Dictionary<string, double>();
        for (int i = 0; i < Kernels.Length; i++)
            nvrtcOnly[Kernels[i]] = Time(() => NvrtcCompiler.Compile(units[i].Code, units[i].ModuleName, arch, units[i].Options));
        m["nvrtc_compile_only_ms"] = nvrtcOnly;
        m["nvrtc_compile_only_total_ms"] = Math.Round(nvrtcOnly.Values.Sum(), 2);
        var whole = SwiGlu.CudaSource;
        m["whole_module_kernel_count"] = whole.Code.Split("extern \"C\"").Length - 1;
        m["whole_module_compile_ms"] = Time(() => NvrtcCompiler.Compile(whole.Code, whole.ModuleName, arch, [.. whole.Options, "-DMOG_ALL_KERNELS"]));

        // (d) then (c): a new process with an empty cache, then new processes with the cache it filled: as in the
        // first runs, then with the driver probe first, then (CUDA only) the probe under each module-loading mode.
        string childCache = Path.Combine(root, "child");
        m["first_process_cold"] = RunChild(deviceKind, childCache, driverProbe: false);
        var warm = Enumerable.Range(0, WarmChildren).Select(_ => RunChild(deviceKind, childCache, driverProbe: false)).ToList();
        m["new_process_warm_cache"] = warm;
        var probed = Enumerable.Range(0, WarmChildren).Select(_ => RunChild(deviceKind, childCache, driverProbe: true)).ToList();
        m["new_process_warm_cache_driver_probe"] = probed;
        List<Dictionary<string, object?>> eager = [], lazy = [];
        if (cuda)
        {
            eager.Add(RunChild(deviceKind, childCache, driverProbe: true, moduleLoading: "EAGER"));
            lazy.Add(RunChild(deviceKind, childCache, driverProbe: true, moduleLoading: "LAZY"));
            m["new_process_warm_cache_module_loading_eager"] = eager;
            m["new_process_warm_cache_module_loading_lazy"] = lazy;
            m["warm_disk_load_median_ms"] = Median(warm, "get_function_total_ms");
            m["warm_process_total_median_ms"] = Median(warm, "total_since_spawn_ms");
        }
        m["breakdown"] = Breakdown(warm, probed, eager, lazy);
        m["notes"] = notes;
        m["date"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture);

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "compile.json"), JsonSerializer.Serialize(m, BenchReport.Json));
        string md = ToMarkdown(m, cuda);
        File.WriteAllText(Path.Combine(outDir, "compile.md"), md);
        Console.WriteLine(md);
        try { Directory.Delete(root, recursive: true); } catch (IOException) { /* a leftover cache folder is harmless */ }
        return 0;
    }

    /// <summary>The hidden <c>compile-child</c> command: one fresh process doing what a training process does first
    /// (libraries, the kernels of one operator, one forward+backward), printing its timings as one JSON line.
    /// With <paramref name="driverProbe"/>, NVRTC's first compile and the driver's first module load of a trivial
    /// kernel come first, each timed apart.</summary>
    public static int RunChild(string deviceKind, long spawnedAtUtcTicks, bool driverProbe)
    {
        double SinceSpawn() => Math.Round((DateTime.UtcNow.Ticks - spawnedAtUtcTicks) / 10_000.0, 2);
        bool cuda = deviceKind == "cuda";
        var m = new Dictionary<string, object?> { ["main_entered_since_spawn_ms"] = SinceSpawn() };
        m["libtorch_init_ms"] = Time(() => { InitializeDeviceType(cuda ? DeviceType.CUDA : DeviceType.CPU); _ = torch.cuda.is_available(); });
        int cc = 90;
        if (cuda) m["driver_init_ms"] = Time(() => { var (major, minor) = CudaKernels.ComputeCapability(0); cc = major * 10 + minor; });
        // NVRTC is not loaded here: the first kernel load below pays whatever the runtime needs of it (choosing the
        // target, the compiler version in the key), as in an application.
        m["cuda_module_loading_env"] = Environment.GetEnvironmentVariable(ModuleLoadingVariable) ?? "(unset)";
        if (cuda)
        {
            m["cuda_module_loading_mode"] = DriverProbe.LoadingMode();
            // The device's primary context, made current (what any first CUDA call pays, libtorch's included),
            // kept apart from the kernel loads themselves.
            m["primary_context_ms"] = Time(() => CudaKernels.MemoryInfo(0));
        }
        if (driverProbe)
        {
            CompiledKernel image = null!;
            string arch = CudaArchitecture.SelectTarget(cc, NvrtcCompiler.SupportedArchitectures);
            m["nvrtc_trivial_compile_ms"] = Time(() => image = DriverProbe.Compile(arch));
            if (cuda) m["driver_probe"] = DriverProbe.Measure(image, 0);
        }
        bool nvrtcLoadedBefore = CudaLibraries.IsNvrtcLoaded;
        // The operator's class first, timed apart: an application has initialised it (its first call into SwiGlu
        // did) before the runtime is asked for a kernel, so it is no part of loading the module.
        CudaSource module = null!;
        m["operator_class_init_ms"] = Time(() => module = SwiGlu.CudaSource);
        var loads = Kernels.ToDictionary(k => k, k => LoadTiming.Measure(() => LoadKernel(cuda, module, k, cc)));
        m["nvrtc_loaded_by_kernel_loads"] = !nvrtcLoadedBefore && CudaLibraries.IsNvrtcLoaded ? 1 : 0;
        m["get_function_ms"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.TotalMs);
        m["get_function_total_ms"] = Math.Round(loads.Values.Sum(t => t.TotalMs), 2);
        m["get_function_phases_ms"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.PhasesWithRest());
        m["get_function_major_page_faults"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.MajorPageFaults);
        m["get_function_jit_ms"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.JitMs);
        m["get_function_jit_methods"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.JitMethods);
        m["get_function_assemblies_loaded"] = loads.ToDictionary(kv => kv.Key, kv => kv.Value.AssembliesLoaded);
        if (cuda) m["first_launch_ms"] = Time(LaunchForwardBackward);
        m["total_since_spawn_ms"] = SinceSpawn();
        Console.WriteLine(ChildMarker + JsonSerializer.Serialize(m));
        return 0;
    }

    /// <summary>Gets <paramref name="kernel"/> as an engine does (<see cref="CudaKernels.GetFunction"/>); without a
    /// device, the host part of the same path: compile unit, target for a device of compute capability
    /// <paramref name="computeCapability"/>, key, disk read or compile and write.</summary>
    private static void LoadKernel(bool cuda, CudaSource source, string kernel, int computeCapability)
    {
        if (cuda)
        {
            CudaKernels.GetFunction(source, kernel, 0);
            return;
        }
        var registry = CudaModuleRegistry.Shared;
        var unit = registry.CompileUnit(source, kernel);
        registry.Cache.GetOrCompile(unit, registry.TargetFor(computeCapability));
    }

    private static Dictionary<string, object?> RunChild(string deviceKind, string cacheDir, bool driverProbe, string? moduleLoading = null)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to start the child with.");
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Under `dotnet MoeOpGen.Bench.dll` the host is dotnet and needs the assembly; the apphost needs nothing.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        psi.ArgumentList.Add("compile-child");
        psi.ArgumentList.Add("--device");
        psi.ArgumentList.Add(deviceKind);
        if (driverProbe) psi.ArgumentList.Add("--driver-probe");
        psi.ArgumentList.Add("--spawned-at");
        psi.Environment[KernelDiskCache.DirectoryVariable] = cacheDir;
        if (moduleLoading is not null) psi.Environment[ModuleLoadingVariable] = moduleLoading;
        long ticks = DateTime.UtcNow.Ticks;
        psi.ArgumentList.Add(ticks.ToString(CultureInfo.InvariantCulture));
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("Process.Start returned null.");
        var stderr = child.StandardError.ReadToEndAsync();
        string stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string? line = stdout.Split('\n').LastOrDefault(l => l.StartsWith(ChildMarker, StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null)
        {
            string output = (stderr.Result + stdout).Trim();
            return new() { ["error"] = $"child exited with {child.ExitCode}: {output[..Math.Min(800, output.Length)]}" };
        }
        var parsed = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line[ChildMarker.Length..])!;
        return parsed.ToDictionary(kv => kv.Key, kv => (object?)(kv.Value.ValueKind == JsonValueKind.Number ? kv.Value.GetDouble() : kv.Value));
    }

    /// <summary>
    /// The figures that explain a first warm-cache load, medians over the children of each kind: the first kernel
    /// split into the driver's <c>cuModuleLoadData</c>, the host phases (compile unit, the target's parts
    /// <see cref="TargetPhases"/>, key, disk read with checksum) and the unattributed rest (JIT, lazily created objects); the trivial kernel's first and second load straight
    /// through the driver; and the first kernel once the probe has paid the driver's first load.
    /// </summary>
    private static Dictionary<string, double> Breakdown(List<Dictionary<string, object?>> warm, List<Dictionary<string, object?>> probed,
        List<Dictionary<string, object?>> eager, List<Dictionary<string, object?>> lazy)
    {
        string first = Kernels[0], second = Kernels[1];
        var b = new Dictionary<string, double>();
        void FirstKernel(string prefix, List<Dictionary<string, object?>> children)
        {
            b[prefix + "first_kernel_ms"] = Median(children, "get_function_ms", first);
            // The spread as well: the first load's host-side costs vary with the machine and from process to process.
            var firsts = children.Select(c => Number(c, "get_function_ms", first)).Where(v => !double.IsNaN(v)).ToList();
            if (firsts.Count > 0)
            {
                b[prefix + "first_kernel_min_ms"] = Math.Round(firsts.Min(), 2);
                b[prefix + "first_kernel_max_ms"] = Math.Round(firsts.Max(), 2);
            }
            b[prefix + "first_kernel_cuModuleLoadData_ms"] = Median(children, "get_function_phases_ms", first, KernelLoadPhases.ModuleLoad);
            b[prefix + "first_kernel_cuModuleGetFunction_ms"] = Median(children, "get_function_phases_ms", first, KernelLoadPhases.GetFunction);
            b[prefix + "first_kernel_host_phases_ms"] = Median(children.Select(c => PhaseSum(c, first, HostPhases)));
            // Choosing the target (what "target" was before it was split): each part, then their sum.
            foreach (var phase in TargetPhases)
                b[prefix + "first_kernel_" + phase + "_ms"] = Median(children, "get_function_phases_ms", first, phase);
            b[prefix + "first_kernel_target_ms"] = Median(children.Select(c => PhaseSum(c, first, TargetPhases)));
            b[prefix + "first_kernel_cache_key_ms"] = Median(children, "get_function_phases_ms", first, KernelLoadPhases.CacheKey);
            b[prefix + "first_kernel_unattributed_ms"] = Median(children, "get_function_phases_ms", first, "unattributed");
            // Of the unattributed rest, what the .NET runtime says it spent on JIT compilation, and its assembly loads.
            b[prefix + "first_kernel_jit_ms"] = Median(children, "get_function_jit_ms", first);
            b[prefix + "first_kernel_jit_methods"] = Median(children, "get_function_jit_methods", first);
            b[prefix + "first_kernel_assemblies_loaded"] = Median(children, "get_function_assemblies_loaded", first);
            b[prefix + "operator_class_init_ms"] = Median(children, "operator_class_init_ms");
            b[prefix + "second_kernel_ms"] = Median(children, "get_function_ms", second);
            b[prefix + "second_kernel_cache_key_ms"] = Median(children, "get_function_phases_ms", second, KernelLoadPhases.CacheKey);
        }
        void Probe(string prefix, List<Dictionary<string, object?>> children)
        {
            b[prefix + "driver_probe_first_load_ms"] = Median(children, "driver_probe", "first", "total");
            b[prefix + "driver_probe_first_cuModuleLoadData_ms"] = Median(children, "driver_probe", "first", "cuModuleLoadData");
            b[prefix + "driver_probe_second_load_ms"] = Median(children, "driver_probe", "second", "total");
            b[prefix + "nvrtc_trivial_compile_ms"] = Median(children, "nvrtc_trivial_compile_ms");
        }
        FirstKernel("warm_", warm);
        Probe("probed_", probed);
        FirstKernel("probed_", probed);
        foreach (var (mode, children) in new[] { ("eager_", eager), ("lazy_", lazy) })
        {
            if (children.Count == 0) continue;
            b[mode + "driver_init_ms"] = Median(children, "driver_init_ms");
            Probe(mode, children);
            FirstKernel(mode, children);
            b[mode + "first_launch_ms"] = Median(children, "first_launch_ms");
        }
        foreach (var key in b.Where(kv => double.IsNaN(kv.Value)).Select(kv => kv.Key).ToList()) b.Remove(key);
        return b;
    }

    /// <summary>The phases of choosing the target architecture (once per process; loading NVRTC only in
    /// <see cref="KernelLoadPhases.CompilerLoad"/>, when no compiler-identity record applies).</summary>
    private static readonly string[] TargetPhases =
    [
        KernelLoadPhases.PredictLibrary, KernelLoadPhases.LibraryIdentity, KernelLoadPhases.IdentityRecord,
        KernelLoadPhases.CompilerLoad, KernelLoadPhases.SelectTarget,
    ];

    /// <summary>The runtime's host-side phases of a warm-cache load (everything but the driver's).</summary>
    private static readonly string[] HostPhases =
    [
        KernelLoadPhases.CompileUnit, .. TargetPhases, KernelLoadPhases.CompilerVersion, KernelLoadPhases.CacheKey,
        KernelLoadPhases.DiskRead, KernelLoadPhases.EntryCheck,
    ];

    /// <summary>The milliseconds a child's load of <paramref name="kernel"/> spent in <paramref name="phases"/> (a phase
    /// that did not run counts 0).</summary>
    private static double PhaseSum(Dictionary<string, object?> child, string kernel, string[] phases) =>
        phases.Sum(phase => Number(child, "get_function_phases_ms", kernel, phase) is var v && double.IsNaN(v) ? 0 : v);

    /// <summary>The number at <paramref name="path"/> in a child's record (top level: a double; deeper: JSON), or NaN.</summary>
    private static double Number(Dictionary<string, object?> child, params string[] path)
    {
        if (!child.TryGetValue(path[0], out var value)) return double.NaN;
        if (value is double d) return path.Length == 1 ? d : double.NaN;
        if (value is not JsonElement element) return double.NaN;
        foreach (var name in path.Skip(1))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element)) return double.NaN;
        }
        return element.ValueKind == JsonValueKind.Number ? element.GetDouble() : double.NaN;
    }

    private static double Median(List<Dictionary<string, object?>> children, params string[] path) =>
        Median(children.Select(c => Number(c, path)));

    private static double Median(IEnumerable<double> values)
    {
        var known = values.Where(v => !double.IsNaN(v)).ToArray();
        return known.Length == 0 ? double.NaN : Math.Round(StepTimer.Median(known), 2);
    }

    /// <summary>One weighted bf16 SwiGLU forward and backward on a GPT-OSS-sized batch, waited for.</summary>
    private static void LaunchForwardBackward()
    {
        using var scope = NewDisposeScope();
        var x = randn([4096, 2 * 2880], ScalarType.BFloat16, torch.CUDA);
        var w = rand([4096, 1], ScalarType.Float32, torch.CUDA);
        var y = SwiGlu.Forward(x, w);
        _ = SwiGlu.Backward(y, x, w);
        torch.cuda.synchronize(torch.CUDA);
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return Math.Round(sw.Elapsed.TotalMilliseconds, 2);
    }

    private static long FaultsSince(long before) => before < 0 ? -1 : PageFaults.Major() - before;

    /// <summary>Milliseconds since the OS started this process (Linux reports the start in clock ticks, 10 ms).</summary>
    private static double SinceProcessStartMs() => Math.Round((DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds, 1);

    /// <summary>The keys the markdown's first line already says.</summary>
    private static readonly HashSet<string> HeaderKeys = ["kernels", "date", "device", "nvrtc_version", "arch", "notes"];

    private static string ToMarkdown(Dictionary<string, object?> m, bool cuda)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# MoeOpGen bench: compile (issue 3)").AppendLine();
        sb.AppendLine($"{m["date"]}; {m["device"]}; NVRTC {m["nvrtc_version"]}, target {m["arch"]}; kernels {string.Join(", ", Kernels)} (weighted bf16 SwiGLU forward and backward).").AppendLine();
        sb.AppendLine("Milliseconds unless the name says otherwise (`major_page_faults`: pages read from storage; `unattributed`: "
            + "time of a kernel load outside the runtime's timed phases — JIT, lazily created objects).").AppendLine();
        if (m["breakdown"] is Dictionary<string, double> { Count: > 0 } breakdown)
        {
            sb.AppendLine("## Breakdown (medians over new processes)").AppendLine();
            sb.AppendLine("| measurement | value |").AppendLine("|---|---:|");
            foreach (var (key, value) in breakdown) Rows(sb, key, value);
            sb.AppendLine().AppendLine("## All measurements").AppendLine();
        }
        sb.AppendLine("| measurement | value |").AppendLine("|---|---:|");
        foreach (var (key, value) in m)
        {
            if (!HeaderKeys.Contains(key) && key != "breakdown") Rows(sb, key, value);
        }
        if (m["notes"] is List<string> { Count: > 0 } notes) sb.AppendLine().AppendLine("Notes: " + string.Join("; ", notes) + ".");
        if (cuda)
            sb.AppendLine().AppendLine("Targets (issue 3): once NVRTC is loaded, cold compile of one operator's kernels ≤ 300 ms "
                + "(cold_get_function_total_ms); a new process with a warm disk cache loads them in ≤ 5 ms (warm_disk_load_median_ms).");
        return sb.ToString();
    }

    /// <summary>One table row per scalar, nested objects and lists flattened into "outer: inner" and "list #n" labels.</summary>
    private static void Rows(StringBuilder sb, string label, object? value)
    {
        switch (value)
        {
            case null:
                return;
            case JsonElement { ValueKind: JsonValueKind.Object } obj:
                foreach (var property in obj.EnumerateObject()) Rows(sb, $"{label}: {property.Name}", property.Value);
                return;
            case JsonElement { ValueKind: JsonValueKind.Array } array:
                int j = 0;
                foreach (var item in array.EnumerateArray()) Rows(sb, $"{label} #{++j}", item);
                return;
            case JsonElement scalar:
                sb.AppendLine($"| {label} | {(scalar.ValueKind == JsonValueKind.Number ? Format(scalar.GetDouble()) : scalar.ToString())} |");
                return;
            case string text:
                sb.AppendLine($"| {label} | {text} |");
                return;
            case IDictionary dictionary:
                foreach (DictionaryEntry entry in dictionary) Rows(sb, $"{label}: {entry.Key}", entry.Value);
                return;
            case IEnumerable list:
                int i = 0;
                foreach (var item in list) Rows(sb, $"{label} #{++i}", item);
                return;
            default:
                sb.AppendLine($"| {label} | {Format(Convert.ToDouble(value, CultureInfo.InvariantCulture))} |");
                return;
        }
    }

    /// <summary>Whole numbers (counts) without decimals, times with two.</summary>
    private static string Format(double d) =>
        d.ToString(d == Math.Floor(d) && Math.Abs(d) < 1e15 ? "F0" : "F2", CultureInfo.InvariantCulture);
}
