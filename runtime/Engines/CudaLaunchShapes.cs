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

    /// <summary>The same with a bias: its gradient is accumulated per block in shared memory, and there two packs a
    /// thread ran faster (H100, GPT-OSS width: 415 µs against 448 µs with four and 443 µs with one).</summary>
    public const long BiasBackwardPacksPerThread = 2;

    /// <summary>Threads per block of the bias reduction (8 warps, each summing every 8th partial).</summary>
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
    /// Gated backward block: whole warps of about <see cref="BackwardPacksPerThread"/> packs of the row per thread
    /// (<see cref="BiasBackwardPacksPerThread"/> with a bias), at least 64 threads, at most
    /// <paramref name="maxThreadsPerBlock"/> (what the kernel's registers allow). On an H100 (weighted bf16 SwiGLU, a
    /// block per row) four packs a thread ran at 95–99 % of copy bandwidth at GPT-OSS and DeepSeek widths, where a
    /// thread per pack ran at 88–92 %.
    /// </summary>
    public static uint GatedBackwardBlock(long packsPerRow, int maxThreadsPerBlock, bool bias)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packsPerRow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreadsPerBlock, 64);
        long perThread = bias ? BiasBackwardPacksPerThread : BackwardPacksPerThread;
        long threads = (packsPerRow + perThread - 1) / perThread;
        return (uint)Math.Clamp((threads + 31) / 32 * 32, 64, maxThreadsPerBlock / 32 * 32);
    }

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
