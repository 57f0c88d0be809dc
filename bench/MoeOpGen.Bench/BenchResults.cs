using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MoeOpGen.Bench;

/// <summary>
/// One measured row. The keys are those of bench/peers/moe_utils_peers.py (name, impl, model, shape, dtype, op,
/// us, bytes, gbps, pct_copy, peak_mem_bytes, error) plus <c>variant</c> and <c>case</c>: <c>case</c>
/// ("family variant op", e.g. "swiglu weighted fwd+bwd") is what bench/compare.py matches across the two files.
/// </summary>
internal sealed class BenchRow
{
    public required string Name { get; init; }
    public required string Impl { get; init; }
    public required string Model { get; init; }
    public required long[] Shape { get; init; }
    public required string Dtype { get; init; }
    public required string Op { get; init; }
    public required string Variant { get; init; }
    [JsonPropertyName("case")] public required string Case { get; init; }
    public double? Us { get; set; }
    public required long Bytes { get; init; }
    public double? Gbps { get; set; }
    public double? PctCopy { get; set; }
    public long? PeakMemBytes { get; set; }
    public string? Error { get; set; }

    /// <summary>Fills the figures from a median time; GB/s counts <see cref="Bytes"/> per call.</summary>
    public void SetTime(double microseconds, double copyGbps)
    {
        Us = Math.Round(microseconds, 1);
        double gbps = Bytes / (microseconds * 1e-6) / 1e9;
        Gbps = Math.Round(gbps, 1);
        PctCopy = copyGbps > 0 ? Math.Round(100 * gbps / copyGbps, 1) : null;
    }
}

/// <summary>A whole run of one command: device, settings, byte and memory models, rows.</summary>
internal sealed class BenchReport
{
    public required string Command { get; init; }
    public required string Device { get; init; }
    public string Date { get; init; } = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture);
    public string Runtime { get; init; } = $".NET {Environment.Version}, TorchSharp 0.107.0";
    public double? CopyGbps { get; set; }
    public required Dictionary<string, object> Settings { get; init; }
    public Dictionary<string, string> ByteModel { get; init; } = [];
    public string? PeakMemModel { get; init; }
    public List<BenchRow> Results { get; } = [];
    public double? ElapsedS { get; set; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes DIR/&lt;stem&gt;.json and DIR/&lt;stem&gt;.md through a temporary file each, so a run cut short
    /// by the 10-minute cap leaves the last complete version.</summary>
    public void Write(string directory, string stem)
    {
        Directory.CreateDirectory(directory);
        WriteAtomically(Path.Combine(directory, stem + ".json"), JsonSerializer.Serialize(this, Json));
        WriteAtomically(Path.Combine(directory, stem + ".md"), ToMarkdown());
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# MoeOpGen bench: {Command}").AppendLine();
        sb.AppendLine($"Device: {Device}; {Runtime}; {Date}.");
        if (CopyGbps is double copy) sb.AppendLine($"Copy bandwidth measured in this run: {copy:F0} GB/s (bf16 copy_, bytes read + written / time).");
        sb.AppendLine($"Settings: {string.Join(", ", Settings.Select(kv => $"{kv.Key} {kv.Value}"))}.");
        if (PeakMemModel is not null) sb.AppendLine($"Peak memory: {PeakMemModel}.");
        sb.AppendLine();
        sb.AppendLine("| model | dtype | name | op | µs | bytes | GB/s | % copy | peak MiB |");
        sb.AppendLine("|---|---|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in Results)
        {
            string us = r.Error is not null ? (r.Error.StartsWith("not available", StringComparison.Ordinal) ? "n/a" : "error") : F(r.Us);
            string peak = r.PeakMemBytes is long p ? (p / 1048576.0).ToString("F0", CultureInfo.InvariantCulture) : "";
            sb.AppendLine($"| {r.Model} | {r.Dtype} | {r.Name} | {r.Op} | {us} | {r.Bytes:N0} | {F(r.Gbps)} | {F(r.PctCopy)} | {peak} |");
        }
        var errors = Results.Where(r => r.Error is not null).ToList();
        if (errors.Count > 0)
        {
            sb.AppendLine().AppendLine("Rows without a time:").AppendLine();
            foreach (var r in errors) sb.AppendLine($"- {r.Model} {r.Dtype} {r.Name} {r.Op}: {r.Error}");
        }
        if (ByteModel.Count > 0)
        {
            sb.AppendLine().AppendLine("Bytes per row (the least DRAM traffic of one fused kernel doing the op):").AppendLine();
            foreach (var (k, v) in ByteModel) sb.AppendLine($"- {k}: {v}");
        }
        return sb.ToString();
    }

    private static string F(double? v) => v is double d ? d.ToString("F1", CultureInfo.InvariantCulture) : "";

    private static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}

/// <summary>The short console table: one line per row as it is measured.</summary>
internal static class ConsoleTable
{
    public static void Print(BenchRow r)
    {
        string figures = r.Error is not null
            ? r.Error
            : string.Create(CultureInfo.InvariantCulture, $"{r.Us,9:F1} µs {r.Gbps,7:F0} GB/s {r.PctCopy,5:F1} %")
              + (r.PeakMemBytes is long p ? string.Create(CultureInfo.InvariantCulture, $"  peak {p / 1048576.0,7:F0} MiB") : "");
        Console.WriteLine($"{r.Model,-12} {r.Dtype,-4} {r.Name,-44} {r.Op,-12} {figures}");
    }
}
