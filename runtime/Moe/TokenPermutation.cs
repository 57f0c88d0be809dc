using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// MoE token routing: <see cref="Permute"/> groups token copies by expert, <see cref="Unpermute"/> sums them back.
/// Same semantics as <c>permute</c> / <c>unpermute</c> of the reference module
/// (<c>nemo_automodel/components/moe/megatron/moe_utils.py</c>, forked from Megatron-LM).
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> Rows of the permuted output are expert-major, token-ascending within an expert. Row
/// <c>m</c> holds token <c>t_m</c> for expert <c>e_m</c>, and the permuted probs hold <c>probs[t_m, e_m]</c>.</para>
/// <para><b>Accumulation.</b> Sums are accumulated in fp32 (fp64 when the tokens or probs are fp64) and rounded
/// once to the tokens' dtype. The reference accumulates in the type-promoted dtype, which is bf16 for bf16 tokens
/// without probs.</para>
/// <para><b>Gradients.</b> Both functions are differentiable with respect to the tokens and the probs. A prob
/// gets a gradient only where it was gathered into the permuted layout, so unrouted dropless positions get zero.</para>
/// <para><b>Fused path</b> (<c>fused: true</c>). MoeOpGen's own fused kernels; TE is not used. It gives the same
/// rows in the same order as the non-fused path, but its index tensor is the row map: an int32 <c>[T, E]</c> tensor
/// in which <c>map[t, e]</c> is the destination row of token <c>t</c>'s copy for expert <c>e</c>, or -1. Only the
/// fused unpermute accepts the row map, and only the non-fused unpermute accepts token ids; mixing them up raises an
/// <see cref="ArgumentException"/>. The fused unpermute is a gather-reduce: each token sums its copies in ascending
/// expert order, without atomics, so it is bit-identical run to run. On CUDA tensors it runs MoeOpGen's kernels
/// (<see cref="FusedRoutingCudaSource"/>, compiled with NVRTC on first use): the permute copies each token to all of
/// its rows, and its probs, in one pass; the unpermute and both backward passes are gather-reduces over the row
/// map, so the permuted tokens, the sums and the tokens' gradients are bit-identical to the CPU path's. The probs'
/// gradient is a dot product over the hidden size, summed in a fixed but different order on each device, so CPU
/// and CUDA agree on it to rounding (and each is bit-identical run to run). On the CPU the fused path runs
/// parallel loops over tensor memory. Host synchronisations on CUDA: the dropless permute reads the routed count
/// back once (drop-and-pad needs none): after queuing the copy when <c>numOutTokens</c> is given (which sizes the
/// output and is checked against the count), else to size its output. The unpermute reads its check of the row map
/// against the rows back once, after queuing the gather. The kernels are bounds-safe on their own, so a failed check
/// throws with the output discarded; docs/routing.md has the details.</para>
/// <para>Deviations from the reference. The reference ignores <c>drop_and_pad</c> when <c>fused=True</c>;
/// MoeOpGen honours it on both paths. TE's fused permute writes a zero row for a routed prob of exactly 0;
/// MoeOpGen copies the token, as the non-fused path does. An integer routing map counts every nonzero entry as
/// routed; the reference's drop-and-pad would rank a 2 above a 1.</para>
/// <para>docs/routing.md describes both paths, the row map and the CUDA kernels.</para>
/// <para>A failure inside a backward pass cannot be thrown there (it would end the process). It is rethrown
/// by the next call to this class or to <see cref="MoEAuxLossAutoScaler"/>.</para>
/// </remarks>
public static class TokenPermutation
{
    /// <summary>Copies each token once per expert it is routed to, grouped by expert.</summary>
    /// <param name="tokens"><c>[T, H]</c> hidden states, any dtype (fp32/fp64/fp16/bf16 for gradients).</param>
    /// <param name="routingMap"><c>[T, E]</c> bool or integer mask: nonzero where token <c>t</c> goes to expert <c>e</c>.</param>
    /// <param name="probs">Optional <c>[T, E]</c> floating-point routing probabilities, permuted in the same order.</param>
    /// <param name="numOutTokens">With <paramref name="dropAndPad"/>: the total capacity. Each expert gets
    /// <c>C = min(numOutTokens / E, T)</c> rows (floor). The reference's slice stops at <c>T</c> in the same way. Its
    /// routed tokens come first in ascending id order, the highest ids are dropped on overflow, and unrouted tokens
    /// pad it in ascending id order. Without <paramref name="dropAndPad"/> it is ignored on the non-fused path, as in
    /// the reference. On the fused path it must then equal the routed count.</param>
    /// <param name="fused">Use MoeOpGen's fused kernels. Same rows; <c>SortedIndices</c> is then the row map.</param>
    /// <param name="dropAndPad">Capacity layout (needs <paramref name="numOutTokens"/>, else dropless).</param>
    /// <returns>The permuted tokens <c>[R, H]</c>; the permuted probs <c>[R]</c> (probs' dtype), or null without
    /// probs; the index tensor for <see cref="Unpermute"/>. Non-fused, that is int64 token ids <c>[R]</c>. Fused, it
    /// is the int32 <c>[T, E]</c> row map. <c>R</c> is the routed count, or <c>E·C</c> with drop-and-pad.</returns>
    /// <exception cref="ArgumentException">A tensor has the wrong rank, shape, dtype or device;
    /// <paramref name="numOutTokens"/> is negative; or the routing map requires grad in drop-and-pad mode.</exception>
    public static (Tensor PermutedInput, Tensor? PermutedProbs, Tensor SortedIndices) Permute(
        Tensor tokens, Tensor routingMap, Tensor? probs = null, long? numOutTokens = null,
        bool fused = false, bool dropAndPad = false)
    {
        BackwardErrorTrap.ThrowPending();
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(routingMap);
        RoutingArguments.Rank(tokens, 2, nameof(tokens), "[tokens, hidden]");
        bool capacityLayout = dropAndPad && numOutTokens is not null;
        if (capacityLayout && routingMap.requires_grad)
            throw new ArgumentException("routingMap must not require grad in drop-and-pad mode (as in the reference).", nameof(routingMap));
        RoutingArguments.RoutingMap(routingMap, tokens.shape[0], tokens, nameof(routingMap), nameof(tokens));
        if (probs is not null)
            RoutingArguments.Probs(probs, routingMap.shape, tokens, nameof(probs), nameof(routingMap));
        RoutingArguments.OutputTokenCount(numOutTokens, nameof(numOutTokens));

        long tokenCount = tokens.shape[0], experts = routingMap.shape[1];
        long? capacity = capacityLayout ? CapacityPerExpert(numOutTokens!.Value, experts, tokenCount) : null;

        using var scope = NewDisposeScope();
        if (!fused)
        {
            var (permuted, permutedProbs, sortedIndices) = CompositeRouting.Permute(tokens, routingMap, probs, capacity);
            return (permuted.MoveToOuterDisposeScope(), permutedProbs?.MoveToOuterDisposeScope(), sortedIndices.MoveToOuterDisposeScope());
        }

        if (capacity is long c && experts * c > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(numOutTokens), numOutTokens,
                "The fused path addresses rows with int32: E·capacity must not exceed int.MaxValue.");
        var (rowMap, routed) = QueueRowMap(routingMap, capacity);
        // The routed count is known on the host with drop-and-pad (E·C) and on the CPU: check it before any copy. On
        // CUDA, dropless, it is in device memory. Given numOutTokens (the reference's callers pass the routed count),
        // the output is allocated with it and the permute is queued behind the row-map kernels; the count is read
        // back once, after, and a mismatch throws with the output discarded (the kernel skips rows at or past
        // numOutTokens, so a wrong count cannot make it write out of bounds). A numOutTokens above T·E cannot be the
        // count, and is not trusted as an allocation size. Without it the permute must wait for the count, which
        // FusedPermuteFunction reads as late as it can.
        bool countPending = !routed.IsKnown;
        var outputRows = routed;
        if (!countPending)
            RequireRoutedCount(routed.Read(), capacity, numOutTokens);
        else if (numOutTokens is long given && given <= Math.Min(tokenCount * experts, int.MaxValue))
            outputRows = FusedRowCount.Known(given);
        var (fusedPermuted, fusedProbs) = FusedPermuteFunction.Apply(tokens, rowMap, outputRows, probs);
        if (countPending)
            RequireRoutedCount(routed.Read(), capacity, numOutTokens);   // read inside Apply, or now, behind the permute
        return (fusedPermuted.MoveToOuterDisposeScope(), fusedProbs?.MoveToOuterDisposeScope(), rowMap.MoveToOuterDisposeScope());
    }

    /// <summary>The fused permute's checks of the routed count: it fits the int32 rows and, dropless, equals the
    /// caller's <paramref name="numOutTokens"/> when given.</summary>
    private static void RequireRoutedCount(long routedRows, long? capacity, long? numOutTokens)
    {
        if (routedRows > int.MaxValue)
            throw TooManyCopies(null);   // the CUDA builder's int32 rows have wrapped
        if (capacity is null && numOutTokens is long expected && expected != routedRows)
            throw new ArgumentException(
                $"numOutTokens is {expected} but the routing map routes {routedRows} token copies; the fused dropless path needs them equal (or numOutTokens null).",
                nameof(numOutTokens));
    }

    /// <summary>Sums the permuted rows back into token order, optionally weighted by the probs.</summary>
    /// <param name="permutedTokens"><c>[R, H]</c> rows in the permuted layout (fp32/fp64/fp16/bf16).</param>
    /// <param name="sortedIndices">The index tensor returned by <see cref="Permute"/> with the same
    /// <paramref name="fused"/>: int64 token ids <c>[R]</c> (non-fused) or the int32 <c>[T, E]</c> row map (fused).</param>
    /// <param name="restoreShape">The output shape <c>[T, H]</c>.</param>
    /// <param name="probs">Optional <c>[T, E]</c> probs: row <c>m</c> is multiplied by <c>probs[t_m, e_m]</c>.</param>
    /// <param name="routingMap">The <c>[T, E]</c> routing map used by the permute. Required with
    /// <paramref name="probs"/> on the non-fused path, to gather the probs as permute did. It is ignored otherwise
    /// (the row map carries the experts).</param>
    /// <param name="fused">Use MoeOpGen's deterministic gather-reduce (needs the row map).</param>
    /// <param name="dropAndPad">Whether the rows have the drop-and-pad layout; only matters with probs on the
    /// non-fused path.</param>
    /// <returns><c>out[t] = Σ_{m: t_m = t} p_m · x_m</c> (<c>p ≡ 1</c> without probs), zeros for tokens with no
    /// copy, accumulated in fp32 (fp64 for fp64 inputs) and returned in the dtype of <paramref name="permutedTokens"/>.</returns>
    /// <exception cref="ArgumentException">A tensor has the wrong rank, shape, dtype or device; the index tensor has
    /// the other path's format or out-of-range entries; <paramref name="restoreShape"/> does not match; or
    /// <paramref name="routingMap"/> is missing although non-fused <paramref name="probs"/> were given.</exception>
    public static Tensor Unpermute(
        Tensor permutedTokens, Tensor sortedIndices, long[] restoreShape, Tensor? probs = null,
        Tensor? routingMap = null, bool fused = false, bool dropAndPad = false)
    {
        BackwardErrorTrap.ThrowPending();
        ArgumentNullException.ThrowIfNull(permutedTokens);
        ArgumentNullException.ThrowIfNull(sortedIndices);
        ArgumentNullException.ThrowIfNull(restoreShape);
        RoutingArguments.Rank(permutedTokens, 2, nameof(permutedTokens), "[rows, hidden]");
        RoutingArguments.FloatingPoint(permutedTokens, nameof(permutedTokens));
        long rowCount = permutedTokens.shape[0];
        if (restoreShape.Length != 2 || restoreShape[0] < 0 || restoreShape[1] != permutedTokens.shape[1])
            throw new ArgumentException(
                $"restoreShape must be [tokens, {permutedTokens.shape[1]}] (the hidden size of permutedTokens), but is [{string.Join(", ", restoreShape)}].",
                nameof(restoreShape));
        RoutingArguments.SameDevice(sortedIndices, permutedTokens, nameof(sortedIndices), nameof(permutedTokens));
        long tokenCount = restoreShape[0];

        using var scope = NewDisposeScope();
        if (fused)
        {
            if (!FusedRowMap.HasRowMapFormat(sortedIndices))
                throw new ArgumentException(
                    $"fused: true expects the row map returned by Permute(fused: true), an int32 [tokens, experts] tensor, but sortedIndices is {sortedIndices.dtype} {RoutingArguments.Shape(sortedIndices)}. Token ids from the non-fused Permute go with fused: false.",
                    nameof(sortedIndices));
            if (sortedIndices.shape[0] != tokenCount)
                throw new ArgumentException(
                    $"restoreShape has {tokenCount} tokens but the row map covers {sortedIndices.shape[0]}.", nameof(restoreShape));
            if (probs is not null)
                RoutingArguments.Probs(probs, sortedIndices.shape, permutedTokens, nameof(probs), "the row map (sortedIndices)");
            // The kernels and the check read the map as a contiguous array; Permute's map already is one.
            var rowMap = sortedIndices.is_contiguous() ? sortedIndices : sortedIndices.contiguous();
            // The check of the map against the rows is queued first. On CUDA the gather is queued behind it before
            // the check is read back: the kernel skips rows at or past the rows it is given, so it cannot read out of
            // bounds, and a map that fails the check throws with the output discarded (this scope disposes it). The
            // CPU kernels trust the map, so there the check is read before the gather.
            var summary = FusedRouting.QueueRowMapSummary(rowMap);
            if (!rowMap.is_cuda)
                RequireRowMapMatchesRows(summary(), rowCount, nameof(sortedIndices));
            var fusedOutput = FusedUnpermuteFunction.Apply(permutedTokens, rowMap, probs);
            if (rowMap.is_cuda)
                RequireRowMapMatchesRows(summary(), rowCount, nameof(sortedIndices));
            return fusedOutput.MoveToOuterDisposeScope();
        }

        if (sortedIndices.dtype != ScalarType.Int64 || sortedIndices.dim() != 1)
            throw new ArgumentException(FusedRowMap.HasRowMapFormat(sortedIndices)
                    ? "sortedIndices is a fused row map (int32 [tokens, experts]); pass fused: true to unpermute it."
                    : $"sortedIndices must be the int64 1-D token ids returned by Permute, but is {sortedIndices.dtype} {RoutingArguments.Shape(sortedIndices)}.",
                nameof(sortedIndices));
        if (sortedIndices.shape[0] != rowCount)
            throw new ArgumentException(
                $"sortedIndices has {sortedIndices.shape[0]} entries but permutedTokens has {rowCount} rows.", nameof(sortedIndices));
        bool countCopies = false;
        if (probs is not null)
        {
            if (routingMap is null)
                throw new ArgumentException(
                    "Unpermute with probs needs the routingMap that Permute used, to gather the probs in the same order.", nameof(routingMap));
            RoutingArguments.RoutingMap(routingMap, tokenCount, permutedTokens, nameof(routingMap), "restoreShape[0]");
            RoutingArguments.Probs(probs, routingMap.shape, permutedTokens, nameof(probs), nameof(routingMap));
            long experts = routingMap.shape[1];
            if (dropAndPad && rowCount % experts != 0)
                throw new ArgumentException(
                    $"A drop-and-pad layout has E·C rows, but sortedIndices has {rowCount} entries for {experts} experts.", nameof(sortedIndices));
            countCopies = !dropAndPad;
        }
        RequireTokenIdsMatch(sortedIndices, tokenCount, countCopies ? routingMap : null, rowCount);
        var output = CompositeRouting.Unpermute(permutedTokens, sortedIndices, restoreShape, probs, routingMap, dropAndPad);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Rows per expert in the drop-and-pad layout: <c>min(numOutTokens / E, T)</c>.</summary>
    internal static long CapacityPerExpert(long numOutTokens, long experts, long tokenCount)
        => Math.Min(numOutTokens / experts, tokenCount);

    /// <summary>The row map, built on the routing map's device by MoeOpGen's kernels on CUDA (the routing map is not
    /// copied to the host), and its row count, still on the device when dropless on CUDA. The map and a pending
    /// count's scratch belong to the caller's dispose scope.</summary>
    private static (Tensor Map, FusedRowCount Rows) QueueRowMap(Tensor routingMap, long? capacity)
    {
        try
        {
            return FusedRouting.QueueRowMap(routingMap, capacity);
        }
        catch (OverflowException ex)   // the CPU builder's checked int32 rows
        {
            throw TooManyCopies(ex);
        }
    }

    private static ArgumentException TooManyCopies(Exception? inner)
        => new("routingMap routes more than int.MaxValue token copies, beyond the fused path's int32 rows.", "routingMap", inner);

    /// <summary>The fused unpermute's check of the map against the rows: the map places exactly
    /// <paramref name="rowCount"/> copies, all in rows below it (one pass, one read-back on CUDA).</summary>
    private static void RequireRowMapMatchesRows((long Copies, long LargestRow) summary, long rowCount, string name)
    {
        var (copies, maxRow) = summary;
        if (copies != rowCount || maxRow >= rowCount)
            throw new ArgumentException(
                $"The row map places {copies} copies in rows up to {maxRow}, but permutedTokens has {rowCount} rows; pass the map Permute returned with these rows.",
                name);
    }

    /// <summary>
    /// The non-fused unpermute's index checks: the token ids lie in <c>[0, tokenCount)</c> and, when
    /// <paramref name="routingMap"/> is given (dropless with probs), it routes exactly <paramref name="rowCount"/>
    /// copies. All numbers come back in one read-back (one host synchronisation on CUDA, not one per number).
    /// </summary>
    private static void RequireTokenIdsMatch(Tensor sortedIndices, long tokenCount, Tensor? routingMap, long rowCount)
    {
        if (sortedIndices.numel() == 0 && routingMap is null)
            return;
        // An empty index tensor has no min or max; a zero stands in (it is not range-checked).
        var ids = sortedIndices.numel() == 0 ? zeros(1, ScalarType.Int64, sortedIndices.device) : sortedIndices;
        var summary = stack(routingMap is null
            ? new[] { ids.min(), ids.max() }
            : new[] { ids.min(), ids.max(), routingMap.count_nonzero() }).cpu().data<long>().ToArray();
        long low = summary[0], high = summary[1], copies = routingMap is null ? rowCount : summary[2];
        if (sortedIndices.numel() != 0 && (low < 0 || high >= tokenCount))
            throw new ArgumentException(
                $"sortedIndices holds token ids in [{low}, {high}], outside [0, {tokenCount}) given by restoreShape.", nameof(sortedIndices));
        if (copies != rowCount)
            throw new ArgumentException(
                $"routingMap routes a different number of token copies ({copies}) than the {rowCount} rows of permutedTokens.", nameof(routingMap));
    }
}
