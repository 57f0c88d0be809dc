using System;
using MoeOpGen.Cuda;

namespace MoeOpGen.Engines;

/// <summary>
/// Grid and block shapes of the generated kernels, one place for the numbers the kernel templates rely on
/// (generator/Emit/Templates: <c>mog_chunk_rows</c>, <c>mog_unary_pack</c>).
/// </summary>
/// <remarks>
/// Element-wise kernels run one thread per 16-byte pack with no loop and 32-bit index arithmetic: on an H100 that
/// moved 97–100 % of copy bandwidth where a grid-stride loop over 64-bit indices moved 70–80 % (docs/benchmarks.md).
/// A tensor of 2³¹ packs or more is launched in chunks numbered by <c>blockIdx.y</c>, so that indices inside a
/// chunk still fit 31 bits.
/// </remarks>
internal static class CudaLaunchShapes
{
    /// <summary>Threads per block of the kernels that run one thread per pack (gated forward, unary forward and
    /// backward).</summary>
    public const uint PackBlock = 256;

    /// <summary>Packs of a row that one gated-backward thread takes (its block strides over the row).</summary>
    public const long BackwardPacksPerThread = 4;

    /// <summary>Threads per block of the gated backward with a bias, one pack of a column slice each
    /// (<c>mog_gated_backward_bias</c>). On an H100 128 ran faster than 256 at GPT-OSS and Mixtral widths
    /// (bench/experiments/kernel-shapes, harness 5).</summary>
    public const uint BiasBackwardBlock = 128;

    /// <summary>Threads per block of the weights-gradient reduction (<c>mog_reduce_weights</c>, a thread per row).</summary>
    public const uint ReduceWeightsBlock = 256;

    /// <summary>Threads per block of the bias reduction (8 warps, each summing every 8th partial into four accumulators in turn).</summary>
    public const uint ReduceBiasBlock = 256;

    /// <summary>
    /// Gated forward: <c>grid.X</c> blocks cover one chunk of rows, <c>grid.Y</c> counts the chunks. A chunk has
    /// <c>int.MaxValue / packsPerRow</c> rows, the kernel's <c>mog_chunk_rows</c>.
    /// </summary>
    /// <param name="rows">Rows of the input, at least 1.</param>
    /// <param name="packsPerRow">16-byte packs of an output row (the last may be partial), at least 1.</param>
    public static (uint X, uint Y) GatedForwardGrid(long rows, long packsPerRow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(packsPerRow, 1);
        if (packsPerRow > int.MaxValue)
            throw new ArgumentException($"A row of {packsPerRow} 16-byte packs is beyond the CUDA kernels' 2³¹ − 1.", "input");
        long chunkRows = int.MaxValue / packsPerRow;
        long gridX = (Math.Min(rows, chunkRows) * packsPerRow + PackBlock - 1) / PackBlock;
        return ((uint)gridX, Chunks(rows, chunkRows));
    }

    /// <summary>
    /// Unary kernels: one thread per pack of the flat tensor, in chunks of <c>grid.X · PackBlock</c> packs along
    /// <c>grid.Y</c> (the kernel's <c>mog_unary_pack</c>).
    /// </summary>
    /// <param name="packs">16-byte packs of the tensor (the last may be partial), at least 1.</param>
    public static (uint X, uint Y) UnaryGrid(long packs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packs, 1);
        long gridX = Math.Min((packs + PackBlock - 1) / PackBlock, int.MaxValue / PackBlock);
        return ((uint)gridX, Chunks(packs, gridX * PackBlock));
    }

    /// <summary>
    /// Gated backward block without a bias (a block per row): whole warps of about
    /// <see cref="BackwardPacksPerThread"/> packs of the row per thread, at least 64 threads, at most
    /// <paramref name="maxThreadsPerBlock"/> (what the kernel's registers allow). On an H100 (weighted bf16 SwiGLU)
    /// four packs a thread ran at 95–99 % of copy bandwidth at GPT-OSS and DeepSeek widths, where a thread per pack
    /// ran at 88–92 %.
    /// </summary>
    public static uint GatedBackwardBlock(long packsPerRow, int maxThreadsPerBlock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packsPerRow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreadsPerBlock, 64);
        long threads = (packsPerRow + BackwardPacksPerThread - 1) / BackwardPacksPerThread;
        return (uint)Math.Clamp((threads + 31) / 32 * 32, 64, maxThreadsPerBlock / 32 * 32);
    }

    /// <summary>
    /// Gated backward with a bias (<c>mog_gated_backward_bias</c>): <c>grid.Y</c> column slices of
    /// <see cref="BiasBackwardBlock"/> packs cover a row; <c>grid.X</c> groups of <c>RowsPerGroup</c> rows cover the
    /// rows, each group writing one [2h] partial of the bias gradient. There are as many groups as fill one wave of
    /// <paramref name="residentBlocks"/> (what the device holds at once) with whole groups: every block then starts at
    /// once and does the same work, so none waits for a straggling second wave.
    /// </summary>
    /// <param name="rows">Rows of the input, at least 1.</param>
    /// <param name="packsPerRow">16-byte packs of an output row (the last may be partial), at least 1.</param>
    /// <param name="residentBlocks">Blocks of <see cref="BiasBackwardBlock"/> threads the device runs at once.</param>
    public static (uint Groups, uint Slices, long RowsPerGroup) BiasBackwardGrid(long rows, long packsPerRow, long residentBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(packsPerRow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(residentBlocks, 1);
        long slices = (packsPerRow + BiasBackwardBlock - 1) / BiasBackwardBlock;
        if (slices > CudaFunction.MaxGridY)
            throw new ArgumentException($"A row of {packsPerRow} 16-byte packs needs {slices} column slices, more than a grid's {CudaFunction.MaxGridY}.", "input");
        long groups = Math.Clamp(residentBlocks / slices, 1, rows);
        long rowsPerGroup = (rows + groups - 1) / groups;
        groups = (rows + rowsPerGroup - 1) / rowsPerGroup;   // no empty group at the end
        return ((uint)groups, (uint)slices, rowsPerGroup);
    }

    /// <summary>Weights-gradient reduction grid: a thread per row (the kernel loops past 2³¹ − 1 threads).</summary>
    public static uint ReduceWeightsGrid(long rows) => (uint)Math.Clamp((rows + ReduceWeightsBlock - 1) / ReduceWeightsBlock, 1, int.MaxValue);

    /// <summary>Bias reduction grid: a block per 32 columns of the [2h] gradient (the kernel loops past 2³¹ − 1).</summary>
    public static uint ReduceBiasGrid(long hidden) => (uint)Math.Min((2 * hidden + 31) / 32, int.MaxValue);

    private static uint Chunks(long items, long perChunk)
    {
        long chunks = (items + perChunk - 1) / perChunk;
        if (chunks > CudaFunction.MaxGridY)
            throw new ArgumentException($"The tensor needs {chunks} launch chunks, more than a grid's {CudaFunction.MaxGridY}.", "input");
        return (uint)chunks;
    }
}
