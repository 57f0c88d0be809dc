using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeOpGen.Bench;

/// <summary>
/// The shapes of issue 5, under the same keys as bench/peers/moe_utils_peers.py so that rows of the two JSON files
/// match. <see cref="Rows"/> = routed token rows fed to the expert activation (tokens × top-k); <see cref="Hidden"/>
/// = H, the activation's output width (its input is 2H); <see cref="PermuteHidden"/> = the model dimension the
/// dispatcher permutes; routing runs on <see cref="Tokens"/> = rows / top-k tokens.
/// </summary>
internal sealed record ModelShape(string Key, long Rows, long Hidden, long PermuteHidden, long Experts, long TopK)
{
    public long Tokens => Rows / TopK;

    public static readonly ModelShape GptOss = new("gpt-oss-20b", 32768, 2880, 2880, 32, 4);
    public static readonly ModelShape Mixtral = new("mixtral-8x7b", 16384, 14336, 4096, 8, 2);
    public static readonly ModelShape DeepSeek = new("deepseek-v3", 65536, 2048, 7168, 256, 8);

    /// <summary>Tiny shapes for <c>--device cpu</c>: every code path, seconds not minutes. H is a multiple of 8
    /// so the 16-byte vector paths of the kernels would be taken on a GPU as well.</summary>
    public static readonly ModelShape CpuTiny = new("cpu-tiny", 256, 64, 64, 8, 2);

    public static IReadOnlyList<ModelShape> All { get; } = [GptOss, Mixtral, DeepSeek];

    /// <summary>Parses <c>--shapes</c>: comma-separated keys or their short forms (gpt-oss, mixtral, deepseek).</summary>
    public static IReadOnlyList<ModelShape> Parse(string list, string optionName)
    {
        var result = new List<ModelShape>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var shape = All.FirstOrDefault(s => s.Key.Equals(item, StringComparison.OrdinalIgnoreCase) ||
                                                 s.Key.StartsWith(item + "-", StringComparison.OrdinalIgnoreCase));
            if (shape is null)
                throw new ArgumentException($"{optionName}: unknown shape '{item}' (known: {string.Join(", ", All.Select(s => s.Key))}, or gpt-oss, mixtral, deepseek).", optionName);
            if (!result.Contains(shape)) result.Add(shape);
        }
        if (result.Count == 0) throw new ArgumentException($"{optionName} names no shape.", optionName);
        return result;
    }
}
