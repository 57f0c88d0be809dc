using System;
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
/// <remarks>The operator is SwiGLU with token weights in bf16, the GPT-OSS / Mixtral expert activation: its
/// forward and backward kernels. Processes (c) and (d) run this executable's hidden <c>compile-child</c> command
/// and time from just before <c>Process.Start</c> (wall clock, passed on the command line) to their last step.</remarks>
internal static class CompileBench
{
    public static readonly string[] Kernels = ["swiglu_fwd_bf16_w", "swiglu_bwd_bf16_w"];

    private const string ChildMarker = "COMPILE-CHILD ";
    private const int WarmChildren = 3;

    public static int Run(string deviceKind, string outDir)
    {
        // Before anything creates the runtime's kernel cache (it reads the variable once): an empty directory.
        string root = Path.Combine(Path.GetFullPath(outDir), "compile-cache");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        string inProcessCache = Path.Combine(root, "in-process");
        Environment.SetEnvironmentVariable("MOEOPGEN_CACHE_DIR", inProcessCache);
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
        string arch = TargetFor(cc);
        m["arch"] = arch;
        m["device"] = cuda ? $"compute capability {cc / 10}.{cc % 10}" : "none (cpu dry run: arch sm_90 assumed)";

        // (b) cold compiles, in process: through the runtime (compile + disk write + module load), then NVRTC alone.
        var units = Kernels.Select(k => SwiGlu.CudaSource.CompileUnit(k)).ToArray();
        if (cuda)
        {
            m["primary_context_ms"] = Time(() => CudaKernels.MemoryInfo(0));
            var cold = new Dictionary<string, double>();
            for (int i = 0; i < Kernels.Length; i++) cold[Kernels[i]] = Time(() => CudaKernels.GetFunction(SwiGlu.CudaSource, Kernels[i], 0));
            m["cold_get_function_ms"] = cold;
            m["cold_get_function_total_ms"] = Math.Round(cold.Values.Sum(), 2);
            m["first_launch_after_compile_ms"] = Time(LaunchForwardBackward);
        }
        else
        {
            notes.Add("cpu dry run: no device, so no module load, no launch and no disk-cache load; NVRTC timings are real");
        }
        var nvrtcOnly = new Dictionary<string, double>();
        for (int i = 0; i < Kernels.Length; i++)
            nvrtcOnly[Kernels[i]] = Time(() => NvrtcCompiler.Compile(units[i].Code, units[i].ModuleName, arch, units[i].Options));
        m["nvrtc_compile_only_ms"] = nvrtcOnly;
        m["nvrtc_compile_only_total_ms"] = Math.Round(nvrtcOnly.Values.Sum(), 2);
        var whole = SwiGlu.CudaSource;
        m["whole_module_kernel_count"] = whole.Code.Split("extern \"C\"").Length - 1;
        m["whole_module_compile_ms"] = Time(() => NvrtcCompiler.Compile(whole.Code, whole.ModuleName, arch, [.. whole.Options, "-DMOG_ALL_KERNELS"]));

        // (d) then (c): a new process with an empty cache, then new processes with the cache it filled.
        string childCache = Path.Combine(root, "child");
        m["first_process_cold"] = RunChild(deviceKind, childCache);
        var warm = Enumerable.Range(0, WarmChildren).Select(_ => RunChild(deviceKind, childCache)).ToList();
        m["new_process_warm_cache"] = warm;
        if (cuda)
        {
            var loads = warm.Select(w => w.TryGetValue("get_function_total_ms", out var v) ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : double.NaN).ToArray();
            m["warm_disk_load_median_ms"] = Math.Round(StepTimer.Median(loads), 2);
            var totals = warm.Select(w => w.TryGetValue("total_since_spawn_ms", out var v) ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : double.NaN).ToArray();
            m["warm_process_total_median_ms"] = Math.Round(StepTimer.Median(totals), 1);
        }
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
    /// (libraries, the kernels of one operator, one forward+backward), printing its timings as one JSON line.</summary>
    public static int RunChild(string deviceKind, long spawnedAtUtcTicks)
    {
        double SinceSpawn() => Math.Round((DateTime.UtcNow.Ticks - spawnedAtUtcTicks) / 10_000.0, 2);
        bool cuda = deviceKind == "cuda";
        var m = new Dictionary<string, object?> { ["main_entered_since_spawn_ms"] = SinceSpawn() };
        m["libtorch_init_ms"] = Time(() => { InitializeDeviceType(cuda ? DeviceType.CUDA : DeviceType.CPU); _ = torch.cuda.is_available(); });
        if (cuda) m["driver_init_ms"] = Time(() => CudaKernels.ComputeCapability(0));
        m["nvrtc_load_ms"] = Time(() => _ = NvrtcCompiler.Version);   // the cache key holds NVRTC's version
        if (cuda)
        {
            // The device's primary context, made current (what any first CUDA call pays, libtorch's included),
            // kept apart from the kernel loads themselves.
            m["primary_context_ms"] = Time(() => CudaKernels.MemoryInfo(0));
            var loads = new Dictionary<string, double>();
            for (int i = 0; i < Kernels.Length; i++) loads[Kernels[i]] = Time(() => CudaKernels.GetFunction(SwiGlu.CudaSource, Kernels[i], 0));
            m["get_function_ms"] = loads;
            m["get_function_total_ms"] = Math.Round(loads.Values.Sum(), 2);
            m["first_launch_ms"] = Time(LaunchForwardBackward);
        }
        m["total_since_spawn_ms"] = SinceSpawn();
        Console.WriteLine(ChildMarker + JsonSerializer.Serialize(m));
        return 0;
    }

    private static Dictionary<string, object?> RunChild(string deviceKind, string cacheDir)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to start the child with.");
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Under `dotnet MoeOpGen.Bench.dll` the host is dotnet and needs the assembly; the apphost needs nothing.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        psi.ArgumentList.Add("compile-child");
        psi.ArgumentList.Add("--device");
        psi.ArgumentList.Add(deviceKind);
        psi.ArgumentList.Add("--spawned-at");
        psi.Environment["MOEOPGEN_CACHE_DIR"] = cacheDir;
        long ticks = DateTime.UtcNow.Ticks;
        psi.ArgumentList.Add(ticks.ToString(CultureInfo.InvariantCulture));
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("Process.Start returned null.");
        var stderr = child.StandardError.ReadToEndAsync();
        string stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string? line = stdout.Split('\n').LastOrDefault(l => l.StartsWith(ChildMarker, StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null)
            return new() { ["error"] = $"child exited with {child.ExitCode}: {(stderr.Result + stdout).Trim()[..Math.Min(800, (stderr.Result + stdout).Trim().Length)]}" };
        var parsed = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line[ChildMarker.Length..])!;
        return parsed.ToDictionary(kv => kv.Key, kv => (object?)(kv.Value.ValueKind == JsonValueKind.Number ? kv.Value.GetDouble() : kv.Value));
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

    /// <summary>What the runtime targets (runtime/Cuda/CudaArchitecture.SelectTarget, internal there): the device's
    /// own sm_XY when NVRTC supports it, else PTX for the highest supported architecture below it.</summary>
    private static string TargetFor(int cc)
    {
        var supported = NvrtcCompiler.SupportedArchitectures;
        if (supported.Contains(cc)) return $"sm_{cc}";
        int below = supported.Where(a => a <= cc).DefaultIfEmpty(supported.Min()).Max();
        return $"compute_{below}";
    }

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return Math.Round(sw.Elapsed.TotalMilliseconds, 2);
    }

    /// <summary>Milliseconds since the OS started this process (Linux reports the start in clock ticks, 10 ms).</summary>
    private static double SinceProcessStartMs() => Math.Round((DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds, 1);

    private static string ToMarkdown(Dictionary<string, object?> m, bool cuda)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# MoeOpGen bench: compile (issue 3)").AppendLine();
        sb.AppendLine($"{m["date"]}; {m["device"]}; NVRTC {m["nvrtc_version"]}, target {m["arch"]}; kernels {string.Join(", ", Kernels)} (weighted bf16 SwiGLU forward and backward).").AppendLine();
        sb.AppendLine("| measurement | ms |").AppendLine("|---|---:|");
        foreach (var (key, value) in m)
        {
            switch (value)
            {
                case double d: sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {key} | {d:F2} |")); break;
                case Dictionary<string, double> per:
                    foreach (var (k, v) in per) sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {key}: {k} | {v:F2} |"));
                    break;
                case Dictionary<string, object?> child:
                    foreach (var (k, v) in child) sb.AppendLine($"| {key}: {k} | {Format(v)} |");
                    break;
                case List<Dictionary<string, object?>> children:
                    for (int i = 0; i < children.Count; i++)
                        foreach (var (k, v) in children[i]) sb.AppendLine($"| {key} #{i + 1}: {k} | {Format(v)} |");
                    break;
            }
        }
        if (m["notes"] is List<string> { Count: > 0 } notes) sb.AppendLine().AppendLine("Notes: " + string.Join("; ", notes) + ".");
        if (cuda)
            sb.AppendLine().AppendLine("Targets (issue 3): once NVRTC is loaded, cold compile of one operator's kernels ≤ 300 ms "
                + "(cold_get_function_total_ms); a new process with a warm disk cache loads them in ≤ 5 ms (warm_disk_load_median_ms).");
        return sb.ToString();
    }

    private static string Format(object? v) => v switch
    {
        double d => d.ToString("F2", CultureInfo.InvariantCulture),
        JsonElement e => e.ToString(),
        null => "",
        _ => v.ToString() ?? "",
    };
}
