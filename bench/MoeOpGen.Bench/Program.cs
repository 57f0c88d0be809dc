using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.IO;

namespace MoeOpGen.Bench;

/// <summary>
/// MoeOpGen's GPU benchmark suite. Commands: <c>ops</c> (gated operators), <c>routing</c> (permute/unpermute),
/// <c>compile</c> (NVRTC and kernel-cache timings), <c>memory</c> (a step's peak memory, part by part). Each writes DIR/&lt;command&gt;.json and .md and prints a short
/// table; bench/compare.py sets the JSON beside the PyTorch peers'. <c>--device cpu</c> is a dry run on tiny
/// shapes (Stopwatch timing) for machines without a GPU.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("MoeOpGen GPU benchmarks (issue 5) and compile timings (issue 3).")
        {
            TimedCommand("ops", "Every gated operator: forward, backward, forward+backward through autograd (non-leaf and leaf input), per variant.", withOps: true),
            TimedCommand("routing", "MoeUtils.Permute / Unpermute, non-fused and fused, with and without probs, forward and forward+backward.", withOps: false),
            CompileCommand(),
            CompileChildCommand(),
            MemoryCommand(),
        };
        return root.Parse(args).Invoke();
    }

    /// <summary>Runs a command's body: a refusal (no CUDA) or a bad option value is one line on stderr and exit
    /// status 2, not a stack trace (System.CommandLine's default handler would print one and return 1).</summary>
    private static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is BenchRefusedException or ArgumentException)
        {
            Console.Error.WriteLine("bench: " + e.Message);
            return 2;
        }
    }

    private static Option<string> OutOption() => new("--out") { Description = "Folder for <command>.json and <command>.md.", Required = true };

    private static Option<string> DeviceOption() => new("--device")
    {
        Description = "cuda (default), or cpu: a dry run on tiny shapes, timed with a Stopwatch.",
        DefaultValueFactory = _ => "cuda",
    };

    private static Command TimedCommand(string name, string description, bool withOps)
    {
        var outOption = OutOption();
        var device = DeviceOption();
        var quick = new Option<bool>("--quick") { Description = "One shape (gpt-oss-20b), bf16, 2 warm-up calls and 5 repeats." };
        var shapes = new Option<string?>("--shapes") { Description = "Comma-separated: gpt-oss, mixtral, deepseek (default: all; --quick: gpt-oss)." };
        var dtypes = new Option<string?>("--dtypes") { Description = "Comma-separated: bf16, fp32 (default: both; --quick: bf16)." };
        var warmup = new Option<int?>("--warmup") { Description = "Untimed calls before timing (default 3; --quick 2; cpu 1)." };
        var repeats = new Option<int?>("--repeats") { Description = "Timed calls; the median is reported (default 10; --quick 5; cpu 3)." };
        var ops = new Option<string>("--ops") { Description = "Comma-separated operators (SwiGlu, GeGlu, ...) or all.", DefaultValueFactory = _ => "all" };
        var calls = new Option<int?>("--calls") { Description = "Calls per timed sample, back to back between one pair of events (default 10; cpu 1)." };
        var command = new Command(name, description) { outOption, device, quick, shapes, dtypes, warmup, repeats, calls };
        if (withOps) command.Options.Add(ops);
        command.SetAction(parse => Guard(() =>
        {
            bool isQuick = parse.GetValue(quick);
            string deviceKind = parse.GetValue(device)!.ToLowerInvariant();
            bool cpu = deviceKind == "cpu";
            var shapeList = cpu ? [ModelShape.CpuTiny]
                : ModelShape.Parse(parse.GetValue(shapes) ?? (isQuick ? "gpt-oss" : "gpt-oss,mixtral,deepseek"), "--shapes");
            var dtypeList = BenchDtype.Parse(parse.GetValue(dtypes) ?? (isQuick ? "bf16" : "bf16,fp32"), "--dtypes");
            var opList = withOps ? GatedOperator.Parse(parse.GetValue(ops)!, "--ops") : [];
            int warm = parse.GetValue(warmup) ?? (cpu ? 1 : isQuick ? 2 : 3);
            int reps = parse.GetValue(repeats) ?? (cpu ? 3 : isQuick ? 5 : 10);
            int perSample = parse.GetValue(calls) ?? (cpu ? 1 : 10);
            return RunTimed(name, deviceKind, parse.GetValue(outOption)!, isQuick, shapeList, dtypeList, opList, warm, reps, perSample);
        }));
        return command;
    }

    private static int RunTimed(string name, string deviceKind, string outDir, bool quick, IReadOnlyList<ModelShape> shapes,
        IReadOnlyList<BenchDtype> dtypes, IReadOnlyList<GatedOperator> ops, int warmup, int repeats, int callsPerSample)
    {
        var started = Stopwatch.StartNew();
        using var device = BenchDevice.Open(deviceKind);
        var timer = new StepTimer(device, warmup, repeats, callsPerSample);
        var settings = new Dictionary<string, object>
        {
            ["warmup"] = warmup,
            ["repeats"] = repeats,
            ["calls_per_sample"] = callsPerSample,
            ["quick"] = quick,
            ["device"] = deviceKind,
            ["timing"] = device.IsCuda ? $"CUDA events around {callsPerSample} calls back to back after one untimed call, median of the per-call time" : "Stopwatch around each call, median",
        };
        var report = new BenchReport
        {
            Command = name,
            Device = device.Name,
            Settings = settings,
            ByteModel = ByteModel.Description,
            PeakMemModel = device.IsCuda ? PeakMemory.Method : "not measured on the CPU",
        };
        Console.WriteLine($"bench {name}: {device.Name}; shapes {string.Join(",", ShapeKeys(shapes))}; dtypes {string.Join(",", DtypeKeys(dtypes))}; warm-up {warmup}, repeats {repeats}");
        if (name == "ops" && device.IsCuda)
        {
            settings["precompile_s"] = Math.Round(OpsBench.Precompile(ops, dtypes), 1);
            Console.WriteLine($"kernels compiled or loaded from the disk cache in {settings["precompile_s"]} s");
        }
        report.CopyGbps = Math.Round(CopyBandwidth.MeasureGbps(device, timer), 1);
        Console.WriteLine($"copy bandwidth: {report.CopyGbps:F0} GB/s");
        var rows = new RowRunner(device, timer, report.CopyGbps.Value, report);
        void Save() => report.Write(outDir, name);
        if (name == "ops") new OpsBench(device, rows, Save).Run(shapes, dtypes, ops);
        else new RoutingBench(device, rows, Save).Run(shapes, dtypes);
        report.ElapsedS = Math.Round(started.Elapsed.TotalSeconds, 1);
        Save();
        int failed = report.Results.FindAll(r => r.Error is not null && !r.Error.StartsWith(RowRunner.NotAvailablePrefix, StringComparison.Ordinal)).Count;
        Console.WriteLine($"wrote {Path.Combine(outDir, name)}.json and .md: {report.Results.Count} rows, {failed} failed, {report.ElapsedS} s");
        return failed == 0 ? 0 : 1;
    }

    private static Command CompileCommand()
    {
        var outOption = OutOption();
        var device = DeviceOption();
        var command = new Command("compile", "Issue 3: NVRTC/driver loading, cold compile, warm disk-cache load in a new process, first-process total.")
        {
            outOption, device,
        };
        command.SetAction(parse => Guard(() => CompileBench.Run(parse.GetValue(device)!.ToLowerInvariant(), parse.GetValue(outOption)!)));
        return command;
    }

    private static Command MemoryCommand()
    {
        var outOption = OutOption();
        var shapes = new Option<string?>("--shapes") { Description = "Comma-separated: gpt-oss, mixtral, deepseek (default: all)." };
        var command = new Command("memory", "Where the peak memory of a weighted bf16 SwiGLU forward+backward goes, part by part (CUDA only).")
        {
            outOption, shapes,
        };
        command.SetAction(parse => Guard(() => MemorySteps.Run(parse.GetValue(outOption)!,
            ModelShape.Parse(parse.GetValue(shapes) ?? "gpt-oss,mixtral,deepseek", "--shapes"))));
        return command;
    }

    private static Command CompileChildCommand()
    {
        var device = DeviceOption();
        var spawnedAt = new Option<long>("--spawned-at") { Description = "UTC ticks just before the parent started this process.", Required = true };
        var driverProbe = new Option<bool>("--driver-probe")
        {
            Description = "Before the kernels: NVRTC's first compile and the driver's first module load of a trivial kernel, timed apart.",
        };
        var command = new Command("compile-child", "Internal: one new process of `bench compile`.") { device, spawnedAt, driverProbe };
        command.Hidden = true;
        command.SetAction(parse => Guard(() => CompileBench.RunChild(
            parse.GetValue(device)!.ToLowerInvariant(), parse.GetValue(spawnedAt), parse.GetValue(driverProbe))));
        return command;
    }

    private static IEnumerable<string> ShapeKeys(IReadOnlyList<ModelShape> shapes) { foreach (var s in shapes) yield return s.Key; }

    private static IEnumerable<string> DtypeKeys(IReadOnlyList<BenchDtype> dtypes) { foreach (var d in dtypes) yield return d.Key; }
}
