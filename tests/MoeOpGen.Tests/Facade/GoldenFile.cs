using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>One case of the golden manifest: its name (<c>&lt;function&gt;/&lt;tag&gt;</c>), tensors and scalars.</summary>
internal sealed record GoldenCase(string Name, IReadOnlyList<string> Tensors, IReadOnlyDictionary<string, JsonElement> Scalars)
{
    /// <summary>The reference function (or call variant) the case ran, e.g. <c>weighted_swiglu_back</c>.</summary>
    public string Function => Name[..Name.IndexOf('/')];

    public bool IsBf16 => Name.Contains("/bf16", StringComparison.Ordinal);

    public double Scalar(string name, double fallback) => Scalars.TryGetValue(name, out var v) ? v.GetDouble() : fallback;

    /// <summary>Null when the scalar is absent or JSON null (the reference's <c>clamp_value=None</c>).</summary>
    public double? OptionalScalar(string name)
        => Scalars.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetDouble() : null;

    public bool Flag(string name) => Scalars.TryGetValue(name, out var v) && v.GetBoolean();

    public override string ToString() => Name;
}

/// <summary>
/// Minimal reader of the reference's golden tensors (<c>shared/golden</c>: a JSON manifest plus one safetensors
/// file). Hand-written so the facade tests need not wait for the golden loader of the routing branch
/// (tests/MoeOpGen.Tests/Golden/); once both are merged one of the two should go. Safetensors is small enough to
/// read directly: a little-endian u64 header length, a JSON header <c>{name: {dtype, shape, data_offsets}}</c>,
/// then the raw little-endian bytes.
/// </summary>
internal sealed class GoldenFile
{
    private static readonly Lazy<GoldenFile?> Shared = new(Load);

    private readonly byte[] _data;
    private readonly long _dataStart;
    private readonly Dictionary<string, (string DType, long[] Shape, long Begin, long End)> _entries;

    private GoldenFile(IReadOnlyList<GoldenCase> cases, byte[] data, long dataStart,
        Dictionary<string, (string, long[], long, long)> entries)
    {
        Cases = cases;
        _data = data;
        _dataStart = dataStart;
        _entries = entries;
    }

    public IReadOnlyList<GoldenCase> Cases { get; }

    /// <summary>The golden directory's file set, or null (tests skip) when the directory is absent.</summary>
    public static GoldenFile? Instance => Shared.Value;

    /// <summary>Where the tests look: <c>&lt;repository root&gt;/../shared/golden</c>, the root being the folder with MoeOpGen.sln.</summary>
    public static string? Directory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MoeOpGen.sln")))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
            return null;
        }
    }

    public GoldenCase Case(string name) => Cases.Single(c => c.Name == name);

    /// <summary>The tensor <c>&lt;case&gt;/&lt;tensor&gt;</c> on the CPU, in its stored dtype.</summary>
    public Tensor Tensor(string caseName, string tensorName)
    {
        string key = $"{caseName}/{tensorName}";
        if (!_entries.TryGetValue(key, out var e))
            throw new KeyNotFoundException($"The golden file has no tensor '{key}'.");
        var bytes = _data.AsSpan((int)(_dataStart + e.Begin), (int)(e.End - e.Begin));
        return e.DType switch
        {
            "F32" => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Shape),
            "F64" => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), e.Shape),
            "I64" => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), e.Shape),
            "BOOL" => tensor(bytes.ToArray().Select(b => b != 0).ToArray(), e.Shape),
            // bf16 is the top half of an fp32, so widening the bits is exact and the cast back restores them.
            "BF16" => tensor(MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray(), e.Shape)
                .to(ScalarType.BFloat16),
            _ => throw new NotSupportedException($"Golden tensor '{key}' has dtype {e.DType}, which this reader does not handle."),
        };
    }

    private static GoldenFile? Load()
    {
        var dir = Directory;
        if (dir is null || !File.Exists(Path.Combine(dir, "moe_utils_golden.json"))) return null;

        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "moe_utils_golden.json")));
        var cases = manifest.RootElement.GetProperty("cases").EnumerateArray().Select(c => new GoldenCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("tensors").EnumerateArray().Select(t => t.GetString()!).ToArray(),
            c.GetProperty("scalars").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()))).ToArray();

        var data = File.ReadAllBytes(Path.Combine(dir, "moe_utils_golden.safetensors"));
        long headerLength = BitConverter.ToInt64(data, 0);
        using var header = JsonDocument.Parse(data.AsMemory(8, (int)headerLength));
        var entries = new Dictionary<string, (string, long[], long, long)>();
        foreach (var p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var offsets = p.Value.GetProperty("data_offsets");
            entries[p.Name] = (p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                offsets[0].GetInt64(), offsets[1].GetInt64());
        }
        return new GoldenFile(cases, data, 8 + headerLength, entries);
    }
}
