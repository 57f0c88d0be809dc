using System;
using System.Collections.Generic;
using MoeOpGen.Cuda;
using MoeOpGen.Engines;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>
/// The launch shapes of the element-wise kernels against a C# mirror of the kernels' index arithmetic
/// (generator/Emit/Templates: mog_gated_forward with mog_chunk_rows, mog_unary_pack): every pack is covered
/// exactly once and a pack's index inside its chunk fits the 32-bit arithmetic the kernels use.
/// </summary>
public class CudaLaunchShapesTests
{
    private const uint Block = CudaLaunchShapes.PackBlock;

    /// <summary>mog_gated_forward's mapping of (blockIdx, threadIdx) to (row, pack), or null when the thread exits.</summary>
    private static (long Row, long Pack)? GatedThread((uint X, uint Y) grid, uint blockX, uint blockY, uint thread, long rows, long packs)
    {
        ulong i64 = (ulong)blockX * Block + thread;
        Assert.True(i64 <= uint.MaxValue, "the kernel computes i in 32 bits");
        uint i = (uint)i64, chunkRow = i / (uint)packs, p = i - chunkRow * (uint)packs;
        long r = chunkRow;
        if (grid.Y > 1)
        {
            uint chunkRows = 0x7fffffffu / (uint)packs;
            if (chunkRow >= chunkRows) return null;
            r += (long)blockY * chunkRows;
        }
        return r >= rows ? null : (r, p);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 360)]
    [InlineData(1000, 7)]
    [InlineData(17, 256)]
    [InlineData(5, 1)]
    public void GatedForwardCoversEveryPackOnce(long rows, long packs)
    {
        var grid = CudaLaunchShapes.GatedForwardGrid(rows, packs);
        Assert.Equal(1u, grid.Y);
        var seen = new HashSet<(long, long)>();
        for (uint bx = 0; bx < grid.X; bx++)
            for (uint t = 0; t < Block; t++)
                if (GatedThread(grid, bx, 0, t, rows, packs) is { } cover)
                    Assert.True(seen.Add(cover), $"pack {cover} covered twice");
        Assert.Equal(rows * packs, seen.Count);
    }

    [Theory]
    [InlineData(32768, 360)]                 // GPT-OSS: one chunk
    [InlineData(6_000_000, 360)]             // 2.16e9 packs: two chunks
    [InlineData(3, 1_000_000_000)]           // rows of 10⁹ packs: two rows per chunk
    [InlineData(2_000_000_000, 3)]
    public void LargeGatedTensorsSplitIntoChunksThatStayInsideThirtyTwoBits(long rows, long packs)
    {
        var grid = CudaLaunchShapes.GatedForwardGrid(rows, packs);
        long chunkRows = int.MaxValue / packs;
        Assert.Equal((rows + chunkRows - 1) / chunkRows, grid.Y);
        Assert.True((ulong)grid.X * Block <= uint.MaxValue);
        Assert.True((long)grid.X * Block >= Math.Min(rows, chunkRows) * packs, "a chunk's packs all have a thread");

        // The first and last pack of every chunk boundary, and the very last pack, map to the right (row, pack).
        for (uint y = 0; y < grid.Y; y++)
        {
            long firstRow = y * chunkRows, lastRow = Math.Min(rows, firstRow + chunkRows) - 1;
            long lastIndex = (lastRow - firstRow) * packs + packs - 1;
            Assert.Equal((firstRow, 0L), GatedThread(grid, 0, y, 0, rows, packs));
            Assert.Equal((lastRow, packs - 1), GatedThread(grid, (uint)(lastIndex / Block), y, (uint)(lastIndex % Block), rows, packs));
            long beyond = lastIndex + 1;   // the next thread of the same chunk, if the grid has one, does nothing
            if (beyond < (long)grid.X * Block)
                Assert.Null(GatedThread(grid, (uint)(beyond / Block), y, (uint)(beyond % Block), rows, packs));
        }
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(257L)]
    [InlineData(11_796_480L)]
    [InlineData(2_147_483_648L)]             // 2³¹ packs: two chunks
    [InlineData(5_000_000_001L)]
    public void UnaryChunksCoverEveryPackWithThirtyTwoBitIndices(long packs)
    {
        var grid = CudaLaunchShapes.UnaryGrid(packs);
        long chunk = (long)grid.X * Block;
        Assert.True(chunk <= int.MaxValue);
        Assert.True(chunk * grid.Y >= packs, "every pack has a thread");
        Assert.True(chunk * (grid.Y - 1) < packs, "no chunk is wholly idle");
    }

    [Theory]
    [InlineData(360, 1024, 96)]       // GPT-OSS bf16: 4 packs a thread
    [InlineData(1792, 1024, 448)]     // Mixtral
    [InlineData(1792, 320, 320)]      // capped by the kernel's registers
    [InlineData(256, 1024, 64)]       // DeepSeek
    [InlineData(3, 1024, 64)]         // narrow rows: at least two warps
    public void BackwardBlocksTakeAFewPacksAThreadInWholeWarps(long packs, int maxThreads, uint expected)
        => Assert.Equal(expected, CudaLaunchShapes.GatedBackwardBlock(packs, maxThreads));

    [Theory]
    [InlineData(32768L, 360L, 924L, 307L)]     // GPT-OSS bf16 on an H100 (7 blocks of 128 per SM): 3 slices
    [InlineData(16384L, 1792L, 660L, 47L)]     // Mixtral, 5 blocks per SM: 14 slices
    [InlineData(65536L, 256L, 924L, 462L)]     // DeepSeek: 2 slices
    [InlineData(5L, 360L, 924L, 5L)]           // fewer rows than one wave's groups: a row per group
    [InlineData(1L, 1L, 1L, 1L)]
    [InlineData(1_000_003L, 7L, 100L, 100L)]   // rows not a multiple of the groups
    [InlineData(3L, 4096L, 10L, 1L)]           // a row wider than a wave: still one group
    public void BiasBackwardFillsOneWaveWithWholeGroupsCoveringEveryRowOnce(long rows, long packs, long resident, long expectedGroups)
    {
        var (groups, slices, rowsPerGroup) = CudaLaunchShapes.BiasBackwardGrid(rows, packs, resident);
        Assert.Equal((packs + CudaLaunchShapes.BiasBackwardBlock - 1) / CudaLaunchShapes.BiasBackwardBlock, (long)slices);
        Assert.Equal(expectedGroups, (long)groups);
        Assert.True((long)groups * slices <= Math.Max(resident, slices), "one wave at most (one group when a row needs more)");
        Assert.True(groups * rowsPerGroup >= rows, "every row is in a group");
        Assert.True((groups - 1) * rowsPerGroup < rows, "no group is empty");
    }

    [Fact]
    public void BiasBackwardRejectsRowsWiderThanTheGridsSlices()
        => Assert.Throws<ArgumentException>(() => CudaLaunchShapes.BiasBackwardGrid(1, (long)CudaFunction.MaxGridY * CudaLaunchShapes.BiasBackwardBlock + 1, 1000));

    [Fact]
    public void WeightsReductionHasAThreadPerRow()
    {
        Assert.Equal(128u, CudaLaunchShapes.ReduceWeightsGrid(32768));
        Assert.Equal(1u, CudaLaunchShapes.ReduceWeightsGrid(1));
        Assert.Equal((uint)int.MaxValue, CudaLaunchShapes.ReduceWeightsGrid(long.MaxValue / 2));   // the kernel loops
    }

    [Fact]
    public void BiasReductionHasABlockPer32Columns()
    {
        Assert.Equal(180u, CudaLaunchShapes.ReduceBiasGrid(2880));
        Assert.Equal(1u, CudaLaunchShapes.ReduceBiasGrid(1));
        Assert.Equal(0u, CudaLaunchShapes.ReduceBiasBlock % 32);
    }

    [Fact]
    public void ImpossibleShapesAreErrors()
    {
        Assert.Throws<ArgumentException>(() => CudaLaunchShapes.GatedForwardGrid(1, 1L << 32));
        Assert.Throws<ArgumentException>(() => CudaLaunchShapes.GatedForwardGrid(long.MaxValue, 1L << 30));
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaLaunchShapes.GatedForwardGrid(0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaLaunchShapes.UnaryGrid(0));
    }
}
