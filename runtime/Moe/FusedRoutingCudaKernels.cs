using System;
using System.Runtime.CompilerServices;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Launches the kernels of <see cref="FusedRoutingCudaSource"/> on CUDA tensors: the CUDA twin of
/// <see cref="FusedRoutingCpuKernels"/> (and of <see cref="FusedRowMap.BuildOnCpu"/> for <see cref="BuildRowMap"/>),
/// with the same operations and contracts (contiguous tensors on one device, outputs and scratch allocated by the
/// caller). Each operation is a plan (<c>Plan*</c>: kernel instantiation, vector
/// width, launch shape and the arguments in the kernel's order) and a run; the plans need no GPU, so tests check
/// them against the source.
/// </summary>
/// <remarks>
/// <para><b>Launch shape.</b> The permute, the unpermute and the unpermute backward without the probs' gradient run
/// <em>warp tasks</em>: one warp per (token, 32-unit segment of its row), grid-strided over all the grid's warps, in
/// blocks of <see cref="WarpTaskBlock"/> threads; the grid is what the tasks need, capped at
/// <see cref="BlocksPerMultiprocessor"/> blocks per SM. No task waits for another, so there is no block barrier and
/// no shared memory. The unpermute backward with the probs' gradient runs one token per block (each dot spans the
/// row), grid <c>min(T, 32 × SMs)</c>; its block is <see cref="DotBlock"/>, 32 to 256 threads that split the row's
/// units evenly over the fewest passes. The dot is reduced with a shuffle tree whose shape depends on the block, and the block depends
/// only on the hidden size and dtype, so that result is bit-identical run to run.</para>
/// <para><b>Vector width.</b> The permute copies rows in the widest unit (16, 8, 4, 2 or 1 bytes) that divides the
/// row's bytes and the alignment of both base pointers. The unpermute kernels use their 16-byte variant
/// (<c>_v16</c>) when the hidden size is a multiple of the 16-byte pack and every row tensor is 16-byte aligned,
/// else the scalar variant. Offsets are 64-bit in every kernel.</para>
/// <para><b>Row map.</b> <see cref="BuildRowMap"/> is three launches: one thread per (tile of
/// <see cref="RowMapTile"/> tokens, expert) counts, one block of <see cref="RowMapScanBlock"/> scans the counts,
/// one thread per (tile, expert) writes the rows. <see cref="SummarizeRowMap"/> (the unpermute's check) runs at most
/// <see cref="MaxSummaryBlocks"/> blocks, each writing its (copies, largest row) for the host to reduce.</para>
/// <para>Nothing is launched when there are no tokens (nor when no row of the map is read).</para>
/// </remarks>
internal static class FusedRoutingCudaKernels
{
    /// <summary>Threads per block of the warp-task kernels (and of the probs gather): 8 warps.</summary>
    public const uint WarpTaskBlock = 256;

    /// <summary>Most threads per block of the dot kernel: its <c>__launch_bounds__</c>, so that it always gets the
    /// registers to launch (about 90 for bf16 16-byte packs, which leaves room for 2 such blocks per SM).</summary>
    public const uint MaxDotBlock = 256;

    /// <summary>Units of a token's row per lane of the gather-reduce (<c>moe_unpermute_*</c> forward): its warp tasks are
    /// 32 times this wide. The source's <c>MOE_GATHER_UNITS_PER_LANE</c> is the same number.</summary>
    public const long GatherUnitsPerLane = 3;

    /// <summary>Grid cap, in blocks per streaming multiprocessor (the kernels grid-stride over the rest).</summary>
    public const long BlocksPerMultiprocessor = 32;

    /// <summary>Fewest tokens per tile of the row-map kernels (one thread walks a tile's tokens for one expert).</summary>
    public const long MinRowMapTile = 32;

    /// <summary>Most per-(tile, expert) counts the one-block scan of the row-map build takes: the tile grows (doubling)
    /// until the counts fit, so the scan stays a few chunks long (4 of 1024 × 16 at this bound).</summary>
    public const long MaxRowMapCounts = 65536;

    /// <summary>Threads of the row-map scan's single block (its <c>__launch_bounds__</c>).</summary>
    public const uint RowMapScanBlock = 1024;

    /// <summary>Most blocks of the row-map summary: each writes 2 int64 that the host reads back and reduces, so the
    /// cap bounds that read-back (4 KiB) while leaving every SM of an H100 some blocks.</summary>
    public const long MaxSummaryBlocks = 256;

    /// <summary>Permute forward: every token row to its copies' rows, and <c>probs[t, e]</c> to
    /// <c>permutedProbs[map[t, e]]</c>, in one pass. Copies whose row is not below the rows of
    /// <paramref name="permuted"/> are skipped, so the map need not be checked first.</summary>
    public static void CopyToRows(Tensor tokens, Tensor rowMap, Tensor? probs, Tensor permuted, Tensor? permutedProbs)
        => Run(PlanCopyToRows(tokens, rowMap, probs, permuted, permutedProbs, Multiprocessors(rowMap)), rowMap);

    /// <summary>Gather-reduce (unpermute forward, permute backward): <c>output[t] = Σ_e w[t, e] · rows[map[t, e]]</c>
    /// in ascending expert order, accumulated in fp32 (fp64 for fp64 rows) and rounded once; zeros for tokens
    /// without a copy. Copies whose row is not below the rows of <paramref name="rows"/> are skipped, so the map need
    /// not be checked first.</summary>
    public static void GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, Tensor output)
        => Run(PlanGatherReduce(rows, rowMap, weights, output, Multiprocessors(rowMap)), rowMap);

    /// <summary>Unpermute backward: <c>rowGrad[map[t, e]] = w[t, e] · grad[t]</c> and, when
    /// <paramref name="weightGrad"/> is given, <c>weightGrad[t, e] = Σ_h rows[map[t, e], h] · grad[t, h]</c>
    /// (zero where there is no copy).</summary>
    public static void ScatterScaledWithDot(Tensor grad, Tensor? rows, Tensor rowMap, Tensor? weights, Tensor rowGrad, Tensor? weightGrad)
        => Run(PlanScatterScaledWithDot(grad, rows, rowMap, weights, rowGrad, weightGrad, Multiprocessors(rowMap)), rowMap);

    /// <summary>Permute backward for the probs: <c>probsGrad[t, e] = permutedProbsGrad[map[t, e]]</c>, or zero.</summary>
    public static void GatherOrZero(Tensor permutedProbsGrad, Tensor rowMap, Tensor probsGrad)
        => Run(PlanGatherOrZero(permutedProbsGrad, rowMap, probsGrad, Multiprocessors(rowMap)), rowMap);

    /// <summary>
    /// Builds the row map of <paramref name="routingMap"/> (see <see cref="FusedRowMap"/>) in three launches: per-tile
    /// counts, their scan, the rows. <paramref name="counts"/> is int64 scratch of <see cref="RowMapCountsLength"/>
    /// entries; its last entry receives the number of routed pairs (the dropless row count).
    /// </summary>
    /// <param name="routingMap">Contiguous <c>[T, E]</c> bool or integer map (1, 2, 4 or 8-byte elements); nonzero is routed.</param>
    /// <param name="capacity">Rows per expert for drop-and-pad (<c>E·capacity ≤ int.MaxValue</c>), or null for dropless.</param>
    /// <param name="counts">int64 scratch, <see cref="RowMapCountsLength"/> entries.</param>
    /// <param name="rowMap">The int32 <c>[T, E]</c> output.</param>
    public static void BuildRowMap(Tensor routingMap, long? capacity, Tensor counts, Tensor rowMap)
    {
        foreach (var launch in PlanBuildRowMap(routingMap, capacity, counts, rowMap, Multiprocessors(rowMap)))
            Run(launch, rowMap);
    }

    /// <summary>Row-map check of the fused unpermute, per block: (entries ≥ 0, largest entry) of block <c>b</c> at
    /// <c>summaries[2b]</c>, <c>summaries[2b + 1]</c> (-1 for a block without entries).</summary>
    /// <param name="rowMap">The contiguous int32 <c>[T, E]</c> map.</param>
    /// <param name="summaries">int64, <c>2 · SummaryBlocks(T·E)</c> entries.</param>
    public static void SummarizeRowMap(Tensor rowMap, Tensor summaries)
        => Run(PlanSummarizeRowMap(rowMap, summaries), rowMap);

    /// <summary>Tokens per tile of the row-map kernels: <see cref="MinRowMapTile"/>, doubled while there are more than
    /// <see cref="MaxRowMapCounts"/> (tile, expert) counts and the tile is shorter than the tokens. At the GPT-OSS
    /// shape (T = 8192, E = 32) it is 32: 256 tiles, 8192 counts, 8192 threads of 32 tokens each.</summary>
    internal static long RowMapTile(long tokenCount, int experts)
    {
        long tile = MinRowMapTile;
        while (tile < tokenCount && CeilingDivide(tokenCount, tile) * experts > MaxRowMapCounts)
            tile *= 2;
        return tile;
    }

    /// <summary>Entries of the row-map build's int64 scratch: one count per (tile, expert), then the total.</summary>
    public static long RowMapCountsLength(long tokenCount, int experts)
        => CeilingDivide(tokenCount, RowMapTile(tokenCount, experts)) * experts + 1;

    /// <summary>Blocks of <see cref="SummarizeRowMap"/> for a map of <paramref name="pairs"/> entries: one per 8 entries
    /// a thread, capped at <see cref="MaxSummaryBlocks"/>; 0 for an empty map (nothing is launched).</summary>
    public static long SummaryBlocks(long pairs)
        => Math.Min(CeilingDivide(pairs, WarpTaskBlock * 8), MaxSummaryBlocks);

    /// <summary>The launches of <see cref="BuildRowMap"/> in order (count, scan, rows), none when there are no tokens.</summary>
    public static FusedRoutingLaunch[] PlanBuildRowMap(Tensor routingMap, long? capacity, Tensor counts, Tensor rowMap, int multiprocessors)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        long width = routingMap.element_size();
        Require(width is 1 or 2 or 4 or 8, $"a routing map of {width}-byte elements");
        CheckTensor(routingMap, "routingMap", routingMap.dtype, tokenCount, experts);
        long countsLength = RowMapCountsLength(tokenCount, experts);
        CheckTensor(counts, "counts", ScalarType.Int64, countsLength);
        Require(capacity is null || (capacity >= 0 && capacity * experts <= int.MaxValue), $"a capacity of {capacity} rows for {experts} experts");
        if (tokenCount == 0) return [];

        long tile = RowMapTile(tokenCount, experts);
        long pairs = countsLength - 1;
        uint grid = (uint)Math.Min(CeilingDivide(pairs, WarpTaskBlock), GridCap(multiprocessors));
        return
        [
            new($"moe_row_map_count_w{width}", grid, WarpTaskBlock, 0,
            [
                ("routing_map", routingMap),
                ("counts", counts),
                ("num_tokens", tokenCount),
                ("num_experts", experts),
                ("tile", tile),
            ]),
            new("moe_row_map_scan", 1, RowMapScanBlock, 0,
            [
                ("counts", counts),
                ("n", pairs),
            ]),
            new($"moe_row_map_rows_w{width}", grid, WarpTaskBlock, 0,
            [
                ("routing_map", routingMap),
                ("counts", counts),
                ("row_map", rowMap),
                ("num_tokens", tokenCount),
                ("num_experts", experts),
                ("tile", tile),
                ("capacity", capacity ?? -1L),   // negative: dropless
            ]),
        ];
    }

    /// <summary>The launch of <see cref="SummarizeRowMap"/>, or null when the map is empty.</summary>
    public static FusedRoutingLaunch? PlanSummarizeRowMap(Tensor rowMap, Tensor summaries)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        long pairs = tokenCount * experts, blocks = SummaryBlocks(pairs);
        CheckTensor(summaries, "summaries", ScalarType.Int64, 2 * blocks);
        if (blocks == 0) return null;
        return new("moe_row_map_summary", (uint)blocks, WarpTaskBlock, 0,
        [
            ("row_map", rowMap),
            ("pairs", pairs),
            ("summaries", summaries),
        ]);
    }

    /// <summary>The launch of <see cref="CopyToRows"/>, or null when there are no tokens.</summary>
    public static FusedRoutingLaunch? PlanCopyToRows(Tensor tokens, Tensor rowMap, Tensor? probs, Tensor permuted, Tensor? permutedProbs, int multiprocessors)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        long hidden = tokens.shape[1], rows = permuted.shape[0];
        CheckTensor(tokens, "tokens", tokens.dtype, tokenCount, hidden);
        CheckTensor(permuted, "permuted", tokens.dtype, rows, hidden);
        Require((probs is null) == (permutedProbs is null), "probs and permutedProbs come together");
        if (probs is not null)
        {
            CheckTensor(probs, "probs", probs.dtype, tokenCount, experts);
            CheckTensor(permutedProbs!, "permutedProbs", probs.dtype, rows);
            Require(probs.element_size() is 2 or 4 or 8, $"probs of {probs.element_size()}-byte elements");
        }
        if (tokenCount == 0) return null;

        long rowBytes = hidden * tokens.element_size();
        int unit = WidestUnit(rowBytes, tokens, permuted);
        return new($"moe_permute_w{unit}", WarpTaskGrid(tokenCount, rowBytes / unit, multiprocessors), WarpTaskBlock, 0,
        [
            ("tokens", tokens),
            ("row_map", rowMap),
            ("probs", probs),
            ("permuted", permuted),
            ("permuted_probs", permutedProbs),
            ("num_tokens", tokenCount),
            ("num_rows", rows),   // map entries at or past it are not written (a map not yet checked)
            ("num_experts", experts),
            ("row_units", rowBytes / unit),
            ("prob_bytes", (int)(probs?.element_size() ?? 0)),   // read only when probs is non-null
        ]);
    }

    /// <summary>The launch of <see cref="GatherReduce"/>, or null when there are no tokens.</summary>
    public static FusedRoutingLaunch? PlanGatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, Tensor output, int multiprocessors)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        var (suffix, accumulator, pack) = Instantiation(rows.dtype);
        long hidden = output.shape[1];
        CheckTensor(rows, "rows", rows.dtype, rows.shape[0], hidden);
        CheckTensor(output, "output", rows.dtype, tokenCount, hidden);
        if (weights is not null) CheckTensor(weights, "weights", accumulator, tokenCount, experts);
        if (tokenCount == 0) return null;

        bool vector = hidden % pack == 0 && Aligned16(rows, output);
        long units = vector ? hidden / pack : hidden;
        long laneGroups = (units + GatherUnitsPerLane - 1) / GatherUnitsPerLane;   // the row in lane-sized groups, 32 a warp task
        return new($"moe_unpermute_{suffix}{(vector ? "_v16" : "")}", WarpTaskGrid(tokenCount, laneGroups, multiprocessors), WarpTaskBlock, 0,
        [
            ("permuted", rows),
            ("row_map", rowMap),
            ("probs", weights),
            ("out", output),
            ("num_tokens", tokenCount),
            ("num_rows", rows.shape[0]),   // map entries at or past it are not read (a map not yet checked)
            ("num_experts", experts),
            ("hidden", hidden),
        ]);
    }

    /// <summary>The launch of <see cref="ScatterScaledWithDot"/>, or null when there are no tokens.</summary>
    public static FusedRoutingLaunch? PlanScatterScaledWithDot(
        Tensor grad, Tensor? rows, Tensor rowMap, Tensor? weights, Tensor rowGrad, Tensor? weightGrad, int multiprocessors)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        var (suffix, accumulator, pack) = Instantiation(grad.dtype);
        long hidden = grad.shape[1], rowCount = rowGrad.shape[0];
        CheckTensor(grad, "grad", grad.dtype, tokenCount, hidden);
        CheckTensor(rowGrad, "rowGrad", grad.dtype, rowCount, hidden);
        Require((rows is null) == (weightGrad is null), "the rows are passed exactly when the weights' gradient is wanted");
        if (rows is not null) CheckTensor(rows, "rows", grad.dtype, rowCount, hidden);
        if (weights is not null) CheckTensor(weights, "weights", accumulator, tokenCount, experts);
        if (weightGrad is not null) CheckTensor(weightGrad, "weightGrad", accumulator, tokenCount, experts);
        if (tokenCount == 0) return null;

        bool vector = hidden % pack == 0 && Aligned16(grad, rows, rowGrad);
        long units = vector ? hidden / pack : hidden;
        // Without the weights' gradient the kernel is a scatter in warp tasks; with it, one token per block.
        var (grid, block) = weightGrad is null
            ? (WarpTaskGrid(tokenCount, units, multiprocessors), WarpTaskBlock)
            : (TokenGrid(tokenCount, multiprocessors), DotBlock(units));
        return new($"moe_unpermute_bwd_{suffix}{(vector ? "_v16" : "")}", grid, block, 0,
        [
            ("grad_out", grad),
            ("permuted", rows),
            ("row_map", rowMap),
            ("probs", weights),
            ("grad_permuted", rowGrad),
            ("grad_probs", weightGrad),
            ("num_tokens", tokenCount),
            ("num_experts", experts),
            ("hidden", hidden),
        ]);
    }

    /// <summary>The launch of <see cref="GatherOrZero"/>, or null when the map is empty.</summary>
    public static FusedRoutingLaunch? PlanGatherOrZero(Tensor permutedProbsGrad, Tensor rowMap, Tensor probsGrad, int multiprocessors)
    {
        var (tokenCount, experts) = CheckRowMap(rowMap);
        var dtype = probsGrad.dtype;
        CheckTensor(permutedProbsGrad, "permutedProbsGrad", dtype, permutedProbsGrad.shape[0]);
        CheckTensor(probsGrad, "probsGrad", dtype, tokenCount, experts);
        long width = probsGrad.element_size();
        Require(width is 2 or 4 or 8, $"probs of {width}-byte elements");
        long pairs = tokenCount * experts;
        if (pairs == 0) return null;

        long blocks = (pairs + WarpTaskBlock - 1) / WarpTaskBlock;
        return new($"moe_permute_probs_bwd_w{width}", (uint)Math.Min(blocks, multiprocessors * BlocksPerMultiprocessor), WarpTaskBlock, 0,
        [
            ("grad_permuted_probs", permutedProbsGrad),
            ("row_map", rowMap),
            ("grad_probs", probsGrad),
            ("pairs", pairs),
        ]);
    }

    /// <summary>The kernel-name suffix, the accumulator (the type of the probs and their gradient) and the elements
    /// per 16-byte pack, for the rows' dtype.</summary>
    internal static (string Suffix, ScalarType Accumulator, long Pack) Instantiation(ScalarType rows) => rows switch
    {
        ScalarType.Float32 => ("f32", ScalarType.Float32, 4),
        ScalarType.Float64 => ("f64", ScalarType.Float64, 2),
        ScalarType.Float16 => ("f16", ScalarType.Float32, 8),
        ScalarType.BFloat16 => ("bf16", ScalarType.Float32, 8),
        _ => throw Internal($"the fused CUDA unpermute kernels got {rows} rows (TokenPermutation admits fp32/fp64/fp16/bf16)"),
    };

    private static void Run(FusedRoutingLaunch? launch, Tensor rowMap)
    {
        if (launch is null) return;
        TensorChecks.RequireCuda(rowMap, nameof(rowMap));
        launch.Run(rowMap.device_index);
    }

    private static int Multiprocessors(Tensor rowMap)
    {
        TensorChecks.RequireCuda(rowMap, nameof(rowMap));
        return CudaKernels.MultiprocessorCount(rowMap.device_index);
    }

    private static (long Tokens, int Experts) CheckRowMap(Tensor rowMap)
    {
        var shape = rowMap.shape;                         // a native call and an array each time: read once
        Require(rowMap.dtype == FusedRowMap.DType && shape.Length == 2, $"a row map of {rowMap.dtype} with {shape.Length} dimensions");
        Require(rowMap.is_contiguous(), "a non-contiguous row map");
        Require(shape[1] is >= 1 and <= int.MaxValue, $"a row map with {shape[1]} experts");
        return (shape[0], (int)shape[1]);
    }

    /// <summary>Dtype, shape and contiguity of one kernel operand; its device is checked at launch.</summary>
    private static void CheckTensor(Tensor tensor, string name, ScalarType dtype, params long[] shape)
    {
        Require(tensor.dtype == dtype, $"{name} is {tensor.dtype}, expected {dtype}");
        var actual = tensor.shape;
        Require(actual.AsSpan().SequenceEqual(shape), $"{name} has shape [{string.Join(", ", actual)}], expected [{string.Join(", ", shape)}]");
        Require(tensor.is_contiguous(), $"{name} is not contiguous");
    }

    /// <summary>One token per block, capped.</summary>
    private static uint TokenGrid(long tokenCount, int multiprocessors)
        => (uint)Math.Min(tokenCount, GridCap(multiprocessors));

    /// <summary>Blocks for one warp per (token, 32-unit segment of its row), capped; every token has a task, even a
    /// zero-width one (the permute's first task of a token moves its probs).</summary>
    internal static uint WarpTaskGrid(long tokenCount, long unitsPerRow, int multiprocessors)
    {
        long tasks = tokenCount * Math.Max(1, (unitsPerRow + 31) / 32);
        long warpsPerBlock = WarpTaskBlock / 32;
        return (uint)Math.Min((tasks + warpsPerBlock - 1) / warpsPerBlock, GridCap(multiprocessors));
    }

    /// <summary>
    /// The dot kernel's block: the fewest passes of at most <see cref="MaxDotBlock"/> threads over the row's units,
    /// the units shared evenly among the passes, rounded up to a warp (32 to 256 threads). The GPT-OSS row of 360
    /// bf16 packs gets 2 passes of 192 threads instead of 256 then 104 busy threads of 256. The block depends on the
    /// shape only, which keeps the dot's reduction order, and so its result, fixed.
    /// </summary>
    internal static uint DotBlock(long unitsPerRow)
    {
        long passes = Math.Max(1, (unitsPerRow + MaxDotBlock - 1) / MaxDotBlock);
        long perPass = (unitsPerRow + passes - 1) / passes;
        return (uint)Math.Clamp((perPass + 31) / 32 * 32, 32, MaxDotBlock);
    }

    private static long GridCap(int multiprocessors) => Math.Max(1, multiprocessors) * BlocksPerMultiprocessor;

    private static long CeilingDivide(long value, long divisor) => (value + divisor - 1) / divisor;

    private static int WidestUnit(long rowBytes, Tensor a, Tensor b)
    {
        foreach (int unit in new[] { 16, 8, 4, 2 })
            if (rowBytes % unit == 0 && TensorChecks.IsAligned(a, unit) && TensorChecks.IsAligned(b, unit))
                return unit;
        return 1;
    }

    private static bool Aligned16(params Tensor?[] tensors)
    {
        foreach (var tensor in tensors)
            if (tensor is not null && !TensorChecks.Is16ByteAligned(tensor))
                return false;
        return true;
    }

    private static void Require(bool condition, string what)
    {
        if (!condition) throw Internal(what);
    }

    /// <summary>As <see cref="Require(bool, string)"/>, with a message formatted only when the condition fails.</summary>
    private static void Require(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureMessage what)
    {
        if (!condition) throw Internal(what.ToStringAndClear());
    }

    /// <summary>
    /// The interpolated message of a <see cref="Require(bool, ref FailureMessage)"/>: built only when the condition is
    /// false; when it holds, the holes (shapes, dtypes) are not even evaluated. The plans run before every launch, and
    /// formatting their messages on success took most of a plan's host time: the gather-reduce plan took 15.1 µs, 6.2
    /// µs without it (CPU, the plan alone); on an H100 the row-map step (three launches and a read-back) went from
    /// 74 to 64 µs.
    /// </summary>
    [InterpolatedStringHandler]
    private ref struct FailureMessage
    {
        private DefaultInterpolatedStringHandler _text;

        public FailureMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            shouldAppend = !condition;
            _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string value) => _text.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

        public string ToStringAndClear() => _text.ToStringAndClear();
    }

    private static InvalidOperationException Internal(string what)
        => new($"Internal error in the fused CUDA routing launch: {what}.");
}
