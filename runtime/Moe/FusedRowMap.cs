using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The index format of MoeOpGen's fused routing path: the <em>row map</em>.
/// </summary>
/// <remarks>
/// <para>
/// An <c>int32</c> tensor of shape <c>[T, E]</c> (tokens × experts): <c>map[t, e]</c> is the row of the permuted
/// output that holds token <c>t</c>'s copy for expert <c>e</c>, or <c>-1</c> when there is none. The rows follow the
/// non-fused order exactly (expert-major, token-ascending within an expert; with drop-and-pad, expert <c>e</c> owns
/// rows <c>[e·C, (e+1)·C)</c>, routed tokens first, then unrouted padding tokens), so the permuted tokens and probs
/// of the two paths are identical. Every row of the permuted output is owned by exactly one <c>(t, e)</c>.
/// </para>
/// <para>
/// Why this layout: an unpermute (and the permute's backward) is a <em>gather-reduce</em>. Each output token reads
/// its own map row and sums its copies in ascending expert order, a fixed order without atomics, so the result is
/// bit-identical run to run. The expert index of each copy is the column, which is what the probs (also
/// <c>[T, E]</c>) and their gradient need. It costs 4·E bytes per token, small beside one hidden row
/// (the routing map itself is <c>[T, E]</c>). Its dtype and rank differ from the non-fused <c>sorted_indices</c>
/// (<c>int64</c>, 1-D), which is how <see cref="TokenPermutation.Unpermute"/> tells the two formats apart.
/// Row ids are int32, so a permuted output has at most <see cref="int.MaxValue"/> rows; offsets into the hidden
/// dimension are computed in 64 bits.
/// </para>
/// </remarks>
internal static class FusedRowMap
{
    /// <summary>The dtype of a row map.</summary>
    public const ScalarType DType = ScalarType.Int32;

    /// <summary>Whether <paramref name="indices"/> has the row-map format (int32, 2-D).</summary>
    public static bool HasRowMapFormat(Tensor indices) => indices.dtype == DType && indices.dim() == 2;

    /// <summary>
    /// Builds the row map on the CPU: one pass over the routing map ranks every (token, expert) pair within its
    /// expert, a second pass over the row map turns ranks into rows once the per-expert counts are known. This is the
    /// reference for the CUDA builder (<see cref="FusedRouting.BuildRowMap"/>: the <c>moe_row_map_*</c> kernels of
    /// <see cref="FusedRoutingCudaSource"/>), which tests hold to it.
    /// </summary>
    /// <param name="routingMap">CPU <c>[T, E]</c> bool or integer map; any nonzero entry counts as routed.</param>
    /// <param name="capacity">Rows per expert for drop-and-pad, or <c>null</c> for the dropless layout.</param>
    /// <returns>The map and the number of rows of the permuted output.</returns>
    public static unsafe (Tensor Map, long Rows) BuildOnCpu(Tensor routingMap, long? capacity)
    {
        using var scope = NewDisposeScope();
        long tokens = routingMap.shape[0];
        int experts = checked((int)routingMap.shape[1]);
        var routed = routingMap.to(ScalarType.Bool).contiguous();
        var map = empty(new[] { tokens, (long)experts }, DType);
        bool* isRouted = (bool*)TensorMemory.Address(routed);
        int* rows = (int*)TensorMemory.Address(map);

        // Pass 1 (over the routing map): rank of each routed pair within its expert (tokens ascending).
        // Drop-and-pad also ranks the unrouted pairs, stored as -(rank + 2) so that -1 stays free.
        var routedCount = new long[experts];
        var unroutedCount = new long[experts];
        for (long t = 0; t < tokens; t++)
        {
            long at = t * experts;
            for (int e = 0; e < experts; e++)
            {
                if (isRouted[at + e])
                    rows[at + e] = checked((int)routedCount[e]++);
                else
                    rows[at + e] = capacity is null ? -1 : checked((int)(-2 - unroutedCount[e]++));
            }
        }

        // Pass 2 (over the row map): rank → row.
        long totalRows;
        if (capacity is long c)
        {
            totalRows = checked(experts * c);
            for (long t = 0; t < tokens; t++)
            {
                long at = t * experts;
                for (int e = 0; e < experts; e++)
                {
                    int rank = rows[at + e];
                    long slot = rank >= 0 ? rank : routedCount[e] + (-2L - rank);   // padding follows the routed tokens
                    rows[at + e] = slot < c ? checked((int)(e * c + slot)) : -1;     // beyond capacity: dropped
                }
            }
        }
        else
        {
            var offsets = new long[experts];
            totalRows = 0;
            for (int e = 0; e < experts; e++) { offsets[e] = totalRows; totalRows += routedCount[e]; }
            for (long t = 0; t < tokens; t++)
            {
                long at = t * experts;
                for (int e = 0; e < experts; e++)
                    if (rows[at + e] >= 0)
                        rows[at + e] = checked((int)(offsets[e] + rows[at + e]));
            }
        }
        return (map.MoveToOuterDisposeScope(), totalRows);
    }
}
