using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Moe;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// The CUDA launch plans of the fused routing path, checked without a GPU (the plans are built from CPU tensors):
/// every plan passes its kernel the arguments the source declares, in the declared order and with the declared
/// widths; the kernel instantiation and vector width follow the dtype and the alignment; the launch shape follows
/// the token count. A mistake here would otherwise show only on a GPU, as wrong values or a crash.
/// </summary>
public class FusedRoutingLaunchPlanTests
{
    private const int Multiprocessors = 132;
    private static readonly IReadOnlyDictionary<string, KernelSignatures.Parameter[]> Signatures =
        KernelSignatures.Parse(FusedRoutingCudaSource.Source);

    [Fact]
    public void The_source_defines_exactly_the_listed_kernels_with_the_widths_nvrtc_compiles()
    {
        Assert.Equal(FusedRoutingCudaSource.KernelNames.Order(), Signatures.Keys.Order());
        Assert.Equal(["tokens", "row_map", "probs", "permuted", "permuted_probs", "num_tokens", "num_rows", "num_experts", "row_units", "prob_bytes"],
                     Signatures["moe_permute_w16"].Select(p => p.Name));
        Assert.Equal(["permuted", "row_map", "probs", "out", "num_tokens", "num_rows", "num_experts", "hidden"],
                     Signatures["moe_unpermute_bf16_v16"].Select(p => p.Name));   // the gather's bound on the rows it reads
        Assert.SkipUnless(NvrtcCompiler.IsAvailable, "NVRTC is not installed; the PTX widths are not checked.");
        var module = FusedRoutingCudaSource.Module;
        string ptx = NvrtcCompiler.Compile(module.Code, module.ModuleName + ".cu", "compute_80", module.Options).PtxText;
        foreach (var (kernel, parameters) in Signatures)
            Assert.True(parameters.Select(p => p.Bytes).SequenceEqual(KernelSignatures.PtxParameterBytes(ptx, kernel)),
                $"{kernel}: source widths [{string.Join(", ", parameters.Select(p => p.Bytes))}], PTX [{string.Join(", ", KernelSignatures.PtxParameterBytes(ptx, kernel))}].");
    }

    public static TheoryData<ScalarType, long, bool, bool, string> PermuteCases => new()
    {
        // dtype, hidden, probs, misaligned tokens (a view 1 element into its storage), expected kernel
        { ScalarType.BFloat16, 64, true, false, "moe_permute_w16" },
        { ScalarType.BFloat16, 64, false, true, "moe_permute_w2" },
        { ScalarType.BFloat16, 13, true, false, "moe_permute_w2" },
        { ScalarType.BFloat16, 4, false, false, "moe_permute_w8" },
        { ScalarType.Float32, 13, true, false, "moe_permute_w4" },
        { ScalarType.Float32, 6, false, false, "moe_permute_w8" },
        { ScalarType.Float64, 3, true, false, "moe_permute_w8" },
        { ScalarType.Float16, 24, false, false, "moe_permute_w16" },
        { ScalarType.Byte, 7, true, false, "moe_permute_w1" },
    };

    [Theory, MemberData(nameof(PermuteCases))]
    public void Permute_plan_matches_the_kernel_signature_and_picks_the_widest_aligned_unit(
        ScalarType dtype, long hidden, bool withProbs, bool misaligned, string expectedKernel)
    {
        using var scope = NewDisposeScope();
        long tokenCount = 37, rows = 50;
        int experts = 5;
        var tokens = misaligned ? empty(tokenCount * hidden + 1, dtype).narrow(0, 1, tokenCount * hidden).view(tokenCount, hidden) : empty(new[] { tokenCount, hidden }, dtype);
        var rowMap = full(new[] { tokenCount, (long)experts }, -1, ScalarType.Int32);
        var probs = withProbs ? empty(tokenCount, experts, dtype: ScalarType.Float32) : null;
        var permuted = empty(new[] { rows, hidden }, dtype);
        var permutedProbs = withProbs ? empty(rows, dtype: ScalarType.Float32) : null;

        var plan = FusedRoutingCudaKernels.PlanCopyToRows(tokens, rowMap, probs, permuted, permutedProbs, Multiprocessors)!;

        AssertMatchesSignature(plan);
        Assert.Equal(expectedKernel, plan.Kernel);
        int unit = int.Parse(expectedKernel["moe_permute_w".Length..]);
        Assert.Equal(hidden * tokens.element_size() / unit, Value(plan, "row_units"));
        Assert.Equal(withProbs ? 4 : 0, Value(plan, "prob_bytes"));
        Assert.Equal(tokenCount, Value(plan, "num_tokens"));
        Assert.Equal(rows, Value(plan, "num_rows"));   // the bound of the writes: the rows of permuted
        Assert.Equal(experts, Value(plan, "num_experts"));
        Assert.Same(tokens, TensorArgument(plan, "tokens"));
        Assert.Same(permuted, TensorArgument(plan, "permuted"));
        Assert.Same(rowMap, TensorArgument(plan, "row_map"));
        Assert.Equal(withProbs, TensorArgument(plan, "probs") is not null);
        Assert.Same(permutedProbs, TensorArgument(plan, "permuted_probs"));
        // One warp per 32-unit segment of each token's row, 8 warps per block, no shared memory.
        long segments = (hidden * tokens.element_size() / unit + 31) / 32;
        Assert.Equal(((uint)((tokenCount * segments + 7) / 8), 256u, 0u), (plan.Grid, plan.Block, plan.SharedBytes));
    }

    public static TheoryData<ScalarType, long, bool, string> UnpermuteCases => new()
    {
        // rows dtype, hidden, misaligned rows, expected kernel
        { ScalarType.BFloat16, 64, false, "moe_unpermute_bf16_v16" },
        { ScalarType.BFloat16, 60, false, "moe_unpermute_bf16" },
        { ScalarType.BFloat16, 64, true, "moe_unpermute_bf16" },
        { ScalarType.Float16, 8, false, "moe_unpermute_f16_v16" },
        { ScalarType.Float32, 12, false, "moe_unpermute_f32_v16" },
        { ScalarType.Float32, 13, false, "moe_unpermute_f32" },
        { ScalarType.Float64, 6, false, "moe_unpermute_f64_v16" },
        { ScalarType.Float64, 3, false, "moe_unpermute_f64" },
    };

    [Theory, MemberData(nameof(UnpermuteCases))]
    public void Unpermute_plans_match_the_kernel_signatures_forward_and_backward(ScalarType dtype, long hidden, bool misaligned, string expectedKernel)
    {
        using var scope = NewDisposeScope();
        long tokenCount = 9000, rowCount = 12;
        int experts = 300;
        var accumulator = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var rows = misaligned ? empty(rowCount * hidden + 1, dtype).narrow(0, 1, rowCount * hidden).view(rowCount, hidden) : empty(new[] { rowCount, hidden }, dtype);
        var rowMap = full(new[] { tokenCount, (long)experts }, -1, ScalarType.Int32);
        var weights = empty(new[] { tokenCount, (long)experts }, accumulator);
        var output = empty(new[] { tokenCount, hidden }, dtype);

        var forward = FusedRoutingCudaKernels.PlanGatherReduce(rows, rowMap, weights, output, Multiprocessors)!;
        AssertMatchesSignature(forward);
        Assert.Equal(expectedKernel, forward.Kernel);
        Assert.Same(rows, TensorArgument(forward, "permuted"));
        Assert.Same(weights, TensorArgument(forward, "probs"));
        Assert.Same(output, TensorArgument(forward, "out"));
        Assert.Equal(hidden, Value(forward, "hidden"));
        Assert.Equal(rowCount, Value(forward, "num_rows"));   // the bound of the reads: the rows of permuted
        long units = expectedKernel.EndsWith("_v16") ? hidden / (16 / rows.element_size()) : hidden;
        long laneGroups = (units + FusedRoutingCudaKernels.GatherUnitsPerLane - 1) / FusedRoutingCudaKernels.GatherUnitsPerLane;
        uint warpTaskBlocks = (uint)((tokenCount * ((laneGroups + 31) / 32) + 7) / 8);   // a warp task per token here: under the cap
        Assert.Equal((warpTaskBlocks, 256u, 0u), (forward.Grid, forward.Block, forward.SharedBytes));
        Assert.Null(TensorArgument(FusedRoutingCudaKernels.PlanGatherReduce(rows, rowMap, null, output, Multiprocessors)!, "probs"));

        var grad = empty(new[] { tokenCount, hidden }, dtype);
        var rowGrad = empty(new[] { rowCount, hidden }, dtype);
        var weightGrad = empty(new[] { tokenCount, (long)experts }, accumulator);
        var backward = FusedRoutingCudaKernels.PlanScatterScaledWithDot(grad, rows, rowMap, weights, rowGrad, weightGrad, Multiprocessors)!;
        AssertMatchesSignature(backward);
        Assert.Equal(expectedKernel.Replace("moe_unpermute_", "moe_unpermute_bwd_"), backward.Kernel);
        Assert.Same(grad, TensorArgument(backward, "grad_out"));
        Assert.Same(rows, TensorArgument(backward, "permuted"));
        Assert.Same(rowGrad, TensorArgument(backward, "grad_permuted"));
        Assert.Same(weightGrad, TensorArgument(backward, "grad_probs"));
        // With the probs' gradient: one token per block, more tokens than the grid cap (the kernel's grid-stride
        // loop covers the rest); these rows of at most 64 units take one pass of whole warps.
        Assert.Equal((Multiprocessors * 32u, (uint)Math.Max(32, (units + 31) / 32 * 32), 0u), (backward.Grid, backward.Block, backward.SharedBytes));

        var withoutProbs = FusedRoutingCudaKernels.PlanScatterScaledWithDot(grad, null, rowMap, null, rowGrad, null, Multiprocessors)!;
        AssertMatchesSignature(withoutProbs);
        Assert.Null(TensorArgument(withoutProbs, "permuted"));
        Assert.Null(TensorArgument(withoutProbs, "grad_probs"));
        // A scatter in warp tasks; without the (misaligned) rows it may take the 16-byte variant.
        long scatterUnits = withoutProbs.Kernel.EndsWith("_v16") ? hidden / (16 / rows.element_size()) : hidden;
        Assert.Equal(((uint)((tokenCount * ((scatterUnits + 31) / 32) + 7) / 8), 256u), (withoutProbs.Grid, withoutProbs.Block));
    }

    /// <summary>The gather-reduce's grid is sized for tasks of <see cref="FusedRoutingCudaKernels.GatherUnitsPerLane"/>
    /// units a lane, which the kernel source states as its own constant: the two must agree, or the grid would leave
    /// warps idle (too wide a task count) or lean on the grid-stride loop (too narrow).</summary>
    [Fact]
    public void The_gather_reduce_grid_and_kernel_agree_on_the_units_per_lane()
    {
        Assert.Contains($"#define MOE_GATHER_UNITS_PER_LANE {FusedRoutingCudaKernels.GatherUnitsPerLane}\n", FusedRoutingCudaSource.Source);
        Assert.InRange(FusedRoutingCudaKernels.GatherUnitsPerLane, 1, 8);
    }

    /// <summary>The shape measured on the H100 (GPT-OSS: T = 8192, E = 32, hidden 2880 bf16 = 360 packs of 16
    /// bytes): 12 warp tasks of 32 packs per token for the permute, more than the grid cap, 4 of 96 packs for the
    /// unpermute; the dot kernel covers a row in two even passes of
    /// 192 threads. Other rows split evenly too, never beyond the launch bound of 256 threads.</summary>
    [Fact]
    public void Gpt_oss_shape_gets_capped_warp_task_grids_and_a_one_pass_dot_block()
    {
        using var scope = NewDisposeScope();
        long tokenCount = 8192, hidden = 2880, rowCount = 4 * 8192;
        var rowMap = full(new[] { tokenCount, 32L }, -1, ScalarType.Int32);
        var tokens = empty(new[] { tokenCount, hidden }, ScalarType.BFloat16);
        var rows = empty(new[] { rowCount, hidden }, ScalarType.BFloat16);
        var probs = empty(new[] { tokenCount, 32L }, ScalarType.Float32);
        var permute = FusedRoutingCudaKernels.PlanCopyToRows(tokens, rowMap, null, rows, null, Multiprocessors)!;
        var unpermute = FusedRoutingCudaKernels.PlanGatherReduce(rows, rowMap, probs, tokens, Multiprocessors)!;
        var backward = FusedRoutingCudaKernels.PlanScatterScaledWithDot(tokens, rows, rowMap, probs, rows, probs, Multiprocessors)!;
        Assert.Equal(("moe_permute_w16", 360L), (permute.Kernel, Value(permute, "row_units")));
        Assert.Equal((Multiprocessors * 32u, 256u), (permute.Grid, permute.Block));     // 98,304 warp tasks, 4,224 blocks
        Assert.Equal((4096u, 256u), (unpermute.Grid, unpermute.Block));   // 4 tasks of 3 × 32 packs a token: 32,768 warps
        Assert.Equal((Multiprocessors * 32u, 192u), (backward.Grid, backward.Block));
        Assert.Equal(224u, FusedRoutingCudaKernels.DotBlock(7168 / 8));   // DeepSeek's 7168: 896 packs, 4 passes of 224
        Assert.Equal(256u, FusedRoutingCudaKernels.DotBlock(4096 / 8));   // 512 packs, 2 passes of 256
        Assert.Equal(256u, FusedRoutingCudaKernels.DotBlock(256));
        Assert.Equal(160u, FusedRoutingCudaKernels.DotBlock(257));        // 2 passes of 129, rounded to 160
        Assert.Equal(32u, FusedRoutingCudaKernels.DotBlock(13));
        Assert.Equal(32u, FusedRoutingCudaKernels.DotBlock(0));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, "moe_permute_probs_bwd_w2")]
    [InlineData(ScalarType.Float16, "moe_permute_probs_bwd_w2")]
    [InlineData(ScalarType.Float32, "moe_permute_probs_bwd_w4")]
    [InlineData(ScalarType.Float64, "moe_permute_probs_bwd_w8")]
    public void Probs_gradient_plan_matches_the_kernel_signature(ScalarType dtype, string expectedKernel)
    {
        using var scope = NewDisposeScope();
        var rowMap = full(new[] { 1000L, 7 }, -1, ScalarType.Int32);
        var permutedProbsGrad = empty(20, dtype: dtype);
        var probsGrad = empty(1000, 7, dtype: dtype);
        var plan = FusedRoutingCudaKernels.PlanGatherOrZero(permutedProbsGrad, rowMap, probsGrad, Multiprocessors)!;
        AssertMatchesSignature(plan);
        Assert.Equal(expectedKernel, plan.Kernel);
        Assert.Equal(7000L, Value(plan, "pairs"));
        Assert.Equal((28u, 256u, 0u), (plan.Grid, plan.Block, plan.SharedBytes));   // ⌈7000 / 256⌉ blocks
        Assert.Same(probsGrad, TensorArgument(plan, "grad_probs"));
    }

    public static TheoryData<ScalarType, long, long, long, bool> RowMapCases => new()
    {
        // routing map dtype, T, E, expected tile, drop-and-pad
        { ScalarType.Bool, 8192, 32, 32, false },     // GPT-OSS: 256 tiles × 32 experts = 8192 counts
        { ScalarType.Byte, 8192, 256, 32, true },     // 65536 counts: at the bound
        { ScalarType.Int16, 20000, 256, 128, false }, // 625 tiles of 32 would be 160,000 counts
        { ScalarType.Int32, 33, 1, 32, true },
        { ScalarType.Int64, 37, 7000, 32, false },    // 14,000 counts; E alone decides
        { ScalarType.Int8, 5_000_000, 1, 128, true }, // 39,063 tiles
    };

    [Theory, MemberData(nameof(RowMapCases))]
    public void Row_map_plans_match_the_kernel_signatures_and_cover_every_tile_and_expert(
        ScalarType dtype, long tokenCount, long experts, long expectedTile, bool dropAndPad)
    {
        using var scope = NewDisposeScope();
        var routingMap = empty(new[] { tokenCount, experts }, dtype);
        var rowMap = empty(new[] { tokenCount, experts }, ScalarType.Int32);
        long tiles = (tokenCount + expectedTile - 1) / expectedTile, counts = tiles * experts;
        Assert.Equal(expectedTile, FusedRoutingCudaKernels.RowMapTile(tokenCount, (int)experts));
        Assert.Equal(counts + 1, FusedRoutingCudaKernels.RowMapCountsLength(tokenCount, (int)experts));
        Assert.True(counts <= FusedRoutingCudaKernels.MaxRowMapCounts || tiles == 1);
        var scratch = empty(counts + 1, dtype: ScalarType.Int64);
        long? capacity = dropAndPad ? tokenCount / 3 : null;

        var plans = FusedRoutingCudaKernels.PlanBuildRowMap(routingMap, capacity, scratch, rowMap, Multiprocessors);

        string width = "w" + routingMap.element_size();
        Assert.Equal([$"moe_row_map_count_{width}", "moe_row_map_scan", $"moe_row_map_rows_{width}"], plans.Select(p => p.Kernel));
        foreach (var plan in plans)
            AssertMatchesSignature(plan);
        var (count, scan, rows) = (plans[0], plans[1], plans[2]);
        foreach (var pass in new[] { count, rows })
        {
            Assert.Same(routingMap, TensorArgument(pass, "routing_map"));
            Assert.Same(scratch, TensorArgument(pass, "counts"));
            Assert.Equal((tokenCount, experts, expectedTile), (Value(pass, "num_tokens"), Value(pass, "num_experts"), Value(pass, "tile")));
            // One thread per (tile, expert), grid-strided beyond the cap.
            Assert.Equal(((uint)Math.Min((counts + 255) / 256, Multiprocessors * 32), 256u, 0u), (pass.Grid, pass.Block, pass.SharedBytes));
        }
        Assert.Same(rowMap, TensorArgument(rows, "row_map"));
        Assert.Equal(capacity ?? -1, Value(rows, "capacity"));
        Assert.Same(scratch, TensorArgument(scan, "counts"));
        Assert.Equal(counts, Value(scan, "n"));
        Assert.Equal((1u, 1024u, 0u), (scan.Grid, scan.Block, scan.SharedBytes));   // one block: the kernel requires it
    }

    [Fact]
    public void Row_map_plans_need_no_launch_without_tokens_and_refuse_inconsistent_operands()
    {
        using var scope = NewDisposeScope();
        var noTokens = empty(new[] { 0L, 4 }, ScalarType.Bool);
        Assert.Empty(FusedRoutingCudaKernels.PlanBuildRowMap(noTokens, null, empty(1, dtype: ScalarType.Int64),
            empty(new[] { 0L, 4 }, ScalarType.Int32), Multiprocessors));

        var map = empty(new[] { 40L, 4 }, ScalarType.Bool);
        var rowMap = empty(new[] { 40L, 4 }, ScalarType.Int32);
        var scratch = empty(2 * 4 + 1, dtype: ScalarType.Int64);
        Assert.Equal(3, FusedRoutingCudaKernels.PlanBuildRowMap(map, 10, scratch, rowMap, Multiprocessors).Length);
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanBuildRowMap(
            map, null, empty(8, dtype: ScalarType.Int64), rowMap, Multiprocessors));                        // scratch without the total
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanBuildRowMap(
            map.t().contiguous().t(), null, scratch, rowMap, Multiprocessors));                              // strided routing map
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanBuildRowMap(
            map, int.MaxValue / 2, scratch, rowMap, Multiprocessors));                                       // E·C beyond int32 rows
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanBuildRowMap(
            map, null, scratch, empty(new[] { 40L, 4 }, ScalarType.Int64), Multiprocessors));                // not a row map
    }

    [Theory]
    [InlineData(8192L, 32L, 128u)]       // GPT-OSS: 262,144 entries, 8 a thread
    [InlineData(1L, 1L, 1u)]
    [InlineData(65536L, 256L, 256u)]     // capped: the kernel grid-strides over 16.8 M entries
    public void Row_map_summary_plan_matches_the_kernel_signature_and_bounds_the_read_back(long tokenCount, long experts, uint expectedBlocks)
    {
        using var scope = NewDisposeScope();
        var rowMap = empty(new[] { tokenCount, experts }, ScalarType.Int32);
        Assert.Equal(expectedBlocks, FusedRoutingCudaKernels.SummaryBlocks(tokenCount * experts));
        var summaries = empty(2 * expectedBlocks, dtype: ScalarType.Int64);
        var plan = FusedRoutingCudaKernels.PlanSummarizeRowMap(rowMap, summaries)!;
        AssertMatchesSignature(plan);
        Assert.Equal("moe_row_map_summary", plan.Kernel);
        Assert.Equal((expectedBlocks, 256u, 0u), (plan.Grid, plan.Block, plan.SharedBytes));
        Assert.Same(rowMap, TensorArgument(plan, "row_map"));
        Assert.Equal(tokenCount * experts, Value(plan, "pairs"));
        Assert.Same(summaries, TensorArgument(plan, "summaries"));
        Assert.Null(FusedRoutingCudaKernels.PlanSummarizeRowMap(empty(new[] { 0L, 3 }, ScalarType.Int32), empty(0, dtype: ScalarType.Int64)));
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanSummarizeRowMap(rowMap, empty(2 * expectedBlocks + 2, dtype: ScalarType.Int64)));
    }

    [Fact]
    public void Nothing_is_launched_without_tokens_but_tokens_without_copies_still_get_their_zeros()
    {
        using var scope = NewDisposeScope();
        var noTokens = full(new[] { 0L, 4 }, -1, ScalarType.Int32);
        Assert.Null(FusedRoutingCudaKernels.PlanCopyToRows(empty(0, 8), noTokens, null, empty(0, 8), null, Multiprocessors));
        Assert.Null(FusedRoutingCudaKernels.PlanGatherReduce(empty(0, 8), noTokens, null, empty(0, 8), Multiprocessors));
        Assert.Null(FusedRoutingCudaKernels.PlanScatterScaledWithDot(empty(0, 8), null, noTokens, null, empty(0, 8), null, Multiprocessors));
        Assert.Null(FusedRoutingCudaKernels.PlanGatherOrZero(empty(0), noTokens, empty(0, 4), Multiprocessors));

        // Three tokens routed nowhere (a drop-and-pad capacity of 0): the unpermute must still write their zero rows,
        // and the probs gradient its zeros.
        var unrouted = full(new[] { 3L, 4 }, -1, ScalarType.Int32);
        var plan = FusedRoutingCudaKernels.PlanGatherReduce(empty(0, 8), unrouted, null, empty(3, 8), Multiprocessors)!;
        Assert.Equal(1u, plan.Grid);   // 3 warp tasks
        Assert.Equal(1u, FusedRoutingCudaKernels.PlanCopyToRows(empty(3, 0), unrouted, null, empty(0, 0), null, Multiprocessors)!.Grid);   // zero-width rows still get a task per token
        Assert.NotNull(FusedRoutingCudaKernels.PlanGatherOrZero(empty(0), unrouted, empty(3, 4), Multiprocessors));
        Assert.NotNull(FusedRoutingCudaKernels.PlanScatterScaledWithDot(empty(3, 0), empty(0, 0), unrouted, empty(3, 4), empty(0, 0), empty(3, 4), Multiprocessors));
    }

    [Fact]
    public void Inconsistent_operands_are_refused_before_any_launch()
    {
        using var scope = NewDisposeScope();
        var rowMap = full(new[] { 4L, 2 }, -1, ScalarType.Int32);
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanCopyToRows(
            empty(4, 8).t().contiguous().t(), rowMap, null, empty(3, 8), null, Multiprocessors));                  // strided tokens
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8, dtype: ScalarType.BFloat16), rowMap, empty(4, 2, dtype: ScalarType.BFloat16), empty(4, 8, dtype: ScalarType.BFloat16), Multiprocessors));   // weights not fp32
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8), rowMap.to(ScalarType.Int64), null, empty(4, 8), Multiprocessors));                         // not a row map
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanScatterScaledWithDot(
            empty(4, 8), empty(3, 8), rowMap, null, empty(3, 8), null, Multiprocessors));                            // rows without weightGrad
        Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8, dtype: ScalarType.Int32), rowMap, null, empty(4, 8, dtype: ScalarType.Int32), Multiprocessors));   // no int kernel
    }

    [Fact]
    public void A_refused_plan_names_the_operand_and_what_is_wrong()
    {
        // The messages are formatted only when a check fails (FailureMessage); this checks that they still are then.
        using var scope = NewDisposeScope();
        var rowMap = full(new[] { 4L, 2 }, -1, ScalarType.Int32);
        var shape = Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8), rowMap, null, empty(5, 8), Multiprocessors));
        Assert.Contains("output has shape [5, 8], expected [4, 8]", shape.Message);
        var dtype = Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8), rowMap, empty(4, 2, dtype: ScalarType.Float64), empty(4, 8), Multiprocessors));
        Assert.Contains("weights is Float64, expected Float32", dtype.Message);
        var map = Assert.Throws<InvalidOperationException>(() => FusedRoutingCudaKernels.PlanGatherReduce(
            empty(3, 8), full(new[] { 4L, 2, 1 }, -1, ScalarType.Int32), null, empty(4, 8), Multiprocessors));
        Assert.Contains("a row map of Int32 with 3 dimensions", map.Message);
    }

    private static void AssertMatchesSignature(FusedRoutingLaunch plan)
    {
        Assert.Contains(plan.Kernel, FusedRoutingCudaSource.KernelNames);
        var parameters = Signatures[plan.Kernel];
        Assert.Equal(parameters.Select(p => p.Name), plan.Arguments.Select(a => a.Parameter));
        Assert.True(parameters.Select(p => p.Bytes).SequenceEqual(plan.Arguments.Select(a => Bytes(a.Value))),
            $"{plan}: argument widths differ from the parameters' [{string.Join(", ", parameters.Select(p => p.Bytes))}].");
        Assert.True(plan.Grid >= 1 && plan.Block is >= 32 and <= 1024 && plan.Block % 32 == 0, plan.ToString());
    }

    private static int Bytes(KernelArg value) => value.Kind switch
    {
        KernelArgKind.Tensor or KernelArgKind.Pointer or KernelArgKind.Int64 => 8,
        KernelArgKind.Int32 or KernelArgKind.Float32 => 4,
        _ => throw new NotSupportedException($"The routing kernels take no {value.Kind} argument."),
    };

    private static KernelArg Argument(FusedRoutingLaunch plan, string parameter) => plan.Arguments.Single(a => a.Parameter == parameter).Value;

    private static long Value(FusedRoutingLaunch plan, string parameter) => Argument(plan, parameter).Bits;

    private static Tensor? TensorArgument(FusedRoutingLaunch plan, string parameter)
    {
        var value = Argument(plan, parameter);
        Assert.True(value.Kind is KernelArgKind.Tensor || (value.Kind is KernelArgKind.Pointer && value.Bits == 0),
            $"{parameter} is a {value.Kind}, not a tensor or null.");
        return value.Tensor;
    }
}
