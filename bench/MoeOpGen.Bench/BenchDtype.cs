using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>A benchmarked element type, named as in the peers' JSON (bf16, fp32).</summary>
internal sealed record BenchDtype(string Key, ScalarType Type, int Size)
{
    public static readonly BenchDtype BFloat16 = new("bf16", ScalarType.BFloat16, 2);
    public static readonly BenchDtype Float32 = new("fp32", ScalarType.Float32, 4);

    public static IReadOnlyList<BenchDtype> Parse(string list, string optionName)
    {
        var result = new List<BenchDtype>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dtype = item.ToLowerInvariant() switch
            {
                "bf16" or "bfloat16" => BFloat16,
                "fp32" or "f32" or "float32" => Float32,
                _ => throw new ArgumentException($"{optionName}: unknown dtype '{item}' (known: bf16, fp32).", optionName),
            };
            if (!result.Contains(dtype)) result.Add(dtype);
        }
        if (result.Count == 0) throw new ArgumentException($"{optionName} names no dtype.", optionName);
        return result;
    }
}
