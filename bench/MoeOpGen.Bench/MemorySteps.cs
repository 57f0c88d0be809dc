using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using MoeOpGen.Ops;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// <c>bench memory</c>: where the peak memory of a weighted bf16 SwiGLU forward+backward goes, part by part, to
/// explain the one peak-memory figure of <c>bench ops</c> above torch.compile's (GPT-OSS, 720 against 540 MiB, while
/// Mixtral and DeepSeek-V3 are level). The driver's free memory (as <see cref="PeakMemory"/> reads it, after
/// libtorch's free cached segments are released) is read after the forward, after the backward and after the step's
/// tensors are disposed, for the autograd wrapper with a non-leaf input (as <c>bench ops</c> measures it), with a
/// leaf input, and for the explicit Forward and Backward calls without autograd.
/// </summary>
internal static class MemorySteps
{
    private const double MiB = 1024.0 * 1024.0;

    public static int Run(string outDir, IReadOnlyList<ModelShape> shapes)
    {
        using var device = BenchDevice.Open("cuda");
        var rows = new List<Dictionary<string, object>>();
        foreach (var shape in shapes)
        {
            long r = shape.Rows, h = shape.Hidden;
            manual_seed(0);
            using var scope = NewDisposeScope();
            var y = randn([r, 2 * h], ScalarType.BFloat16, device.Device);
            var g = randn([r, h], ScalarType.BFloat16, device.Device);
            var w = rand([r, 1], ScalarType.Float32, device.Device);
            var yLeaf = y.detach().clone().requires_grad_(true);
            var wLeaf = w.detach().clone().requires_grad_(true);
            var cases = new (string Name, Func<Tensor?> Forward, Action<Tensor?> Backward)[]
            {
                ("autograd, non-leaf input (bench ops)",
                    () => SwiGlu.Apply(yLeaf.view(yLeaf.shape), wLeaf), output => output!.backward([g])),
                ("autograd, leaf input",
                    () => SwiGlu.Apply(yLeaf, wLeaf), output => output!.backward([g])),
                ("explicit Forward, Backward",
                    () => SwiGlu.Forward(y, w), _ => SwiGlu.Backward(g, y, w)),
            };
            foreach (var (name, forward, backward) in cases)
            {
                // Once untimed: kernels loaded, libtorch's autograd set up.
                Step(device, forward, backward, yLeaf, wLeaf, null);
                var readings = new List<(string Part, ulong Free)>();
                Step(device, forward, backward, yLeaf, wLeaf, readings);
                ulong baseline = readings[0].Free;
                var row = new Dictionary<string, object>
                {
                    ["shape"] = shape.Key,
                    ["case"] = name,
                    ["input_mib"] = Math.Round(r * 2 * h * 2 / MiB, 1),
                    ["output_mib"] = Math.Round(r * h * 2 / MiB, 1),
                };
                foreach (var (part, free) in readings.Skip(1))
                    row[part + "_mib"] = Math.Round(((double)baseline - free) / MiB, 1);
                rows.Add(row);
                Console.WriteLine($"{shape.Key,-14} {name,-40} " + string.Join("  ", readings.Skip(1).Select(p => $"{p.Part} {((double)baseline - p.Free) / MiB,7:F0} MiB")));
            }
        }
        Directory.CreateDirectory(outDir);
        var report = new Dictionary<string, object>
        {
            ["device"] = device.Name,
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["method"] = "driver free memory below the reading taken after libtorch's free cached segments were released, "
                         + "MiB, after each part of one weighted bf16 SwiGLU forward+backward (the second of two)",
            ["rows"] = rows,
        };
        File.WriteAllText(Path.Combine(outDir, "memory.json"), JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        var md = new StringBuilder("# MoeOpGen bench: memory (where a step's peak memory goes)\n\n")
            .Append(report["device"]).Append(", ").Append(report["date"]).Append(". ").Append(report["method"]).Append(".\n\n")
            .Append("| shape | case | input | output | after forward | after backward | after dispose |\n|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var row in rows)
            md.Append(CultureInfo.InvariantCulture, $"| {row["shape"]} | {row["case"]} | {row["input_mib"]} | {row["output_mib"]} | {row.GetValueOrDefault("forward_mib")} | {row.GetValueOrDefault("backward_mib")} | {row.GetValueOrDefault("disposed_mib")} |\n");
        File.WriteAllText(Path.Combine(outDir, "memory.md"), md.ToString());
        Console.WriteLine($"wrote {Path.Combine(outDir, "memory")}.json and .md");
        return 0;
    }

    /// <summary>One forward+backward in its own dispose scope, with the cache emptied first; with
    /// <paramref name="readings"/>, the driver's free memory before and after each part.</summary>
    private static void Step(BenchDevice device, Func<Tensor?> forward, Action<Tensor?> backward, Tensor yLeaf, Tensor wLeaf,
                             List<(string Part, ulong Free)>? readings)
    {
        yLeaf.grad = null;
        wLeaf.grad = null;
        readings?.Add(("baseline", PeakMemory.FreeWithEmptyCache(device)));
        void Read(string part) => readings?.Add((part, PeakMemory.Free(device)));
        using (var scope = NewDisposeScope())
        {
            var output = forward();
            Read("forward");
            backward(output);
            Read("backward");
        }
        yLeaf.grad = null;
        wLeaf.grad = null;
        StepTimer.CollectGarbage();
        Read("disposed");
    }
}
