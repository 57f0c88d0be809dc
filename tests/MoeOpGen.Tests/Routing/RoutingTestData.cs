using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Routing inputs for tests, and conversions between the fused row map and token ids.</summary>
internal static class RoutingTestData
{
    /// <summary>Tokens <c>[T, H]</c>, a top-k routing map <c>[T, E]</c> and probs that are a softmax over the routed
    /// experts (zero elsewhere, rows summing to 1). Deterministic for a seed.</summary>
    public static (Tensor Tokens, Tensor RoutingMap, Tensor Probs) TopK(
        long tokens, long experts, int k, long hidden, long seed, ScalarType dtype = ScalarType.Float32)
    {
        var generator = new Generator((ulong)seed);
        var x = randn(new[] { tokens, hidden }, generator: generator).to(dtype);
        var logits = randn(new[] { tokens, experts }, generator: generator);
        var top = logits.topk(k, dim: 1).indexes;
        var map = zeros(new[] { tokens, experts }, ScalarType.Bool).scatter(1, top, ones_like(top, ScalarType.Bool));
        var probs = logits.masked_fill(map.logical_not(), double.NegativeInfinity).softmax(1);
        if (tokens == 0 || k == 0)
            probs = zeros(new[] { tokens, experts });
        return (x, map, probs);
    }

    /// <summary>A bool routing map from nested arrays of 0/1.</summary>
    public static Tensor Map(params int[][] rows)
    {
        long experts = rows.Length == 0 ? 1 : rows[0].Length;
        return tensor(rows.SelectMany(r => r).Select(v => v != 0).ToArray(), new[] { (long)rows.Length, experts });
    }

    /// <summary>Token ids in row order implied by a row map (what the non-fused sortedIndices would be).</summary>
    public static long[] TokenIdsOf(Tensor rowMap, long rows)
    {
        var map = rowMap.cpu().to(ScalarType.Int64).data<long>().ToArray();
        long experts = rowMap.shape[1];
        var ids = Enumerable.Repeat(-1L, (int)rows).ToArray();
        for (int i = 0; i < map.Length; i++)
            if (map[i] >= 0)
            {
                if (ids[map[i]] != -1) throw new InvalidOperationException($"Row {map[i]} has two owners.");
                ids[map[i]] = i / experts;
            }
        if (ids.Contains(-1)) throw new InvalidOperationException("A row has no owner.");
        return ids;
    }

    /// <summary>
    /// A row map for token ids without their experts: each token's copies go to columns 0, 1, … in row order.
    /// Enough for an unpermute without probs (which ignores experts), e.g. for golden cases without a routing map.
    /// </summary>
    public static Tensor RowMapFromTokenIds(Tensor sortedIndices, long tokens)
    {
        var ids = sortedIndices.cpu().data<long>().ToArray();
        var rowsOf = Enumerable.Range(0, (int)tokens).Select(_ => new List<int>()).ToArray();
        for (int row = 0; row < ids.Length; row++)
            rowsOf[ids[row]].Add(row);
        int width = Math.Max(1, rowsOf.Select(r => r.Count).DefaultIfEmpty(0).Max());
        var map = Enumerable.Repeat(-1, (int)tokens * width).ToArray();
        for (int t = 0; t < tokens; t++)
            for (int j = 0; j < rowsOf[t].Count; j++)
                map[t * width + j] = rowsOf[t][j];
        return tensor(map, new[] { tokens, (long)width });
    }
}
