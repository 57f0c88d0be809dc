using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The fused routing operations on either device, which <see cref="TokenPermutation"/> and the autograd functions
/// call: each allocates its outputs on the operands' device, brings the operands to the layout and dtypes the kernels
/// take, then runs the device's kernel: <see cref="FusedRoutingCudaKernels"/> (MoeOpGen's NVRTC kernels) for CUDA
/// tensors, <see cref="FusedRoutingCpuKernels"/> (parallel loops) and <see cref="FusedRowMap.BuildOnCpu"/> for CPU
/// tensors. Both follow the row map (<see cref="FusedRowMap"/>) and give the same results: the row map, the permuted
/// tokens, the sums and the rows' gradient are bit-identical; the probs' gradient is a dot product reduced in another
/// order on each device, so it agrees to rounding.
/// </summary>
/// <remarks>
/// On CUDA these functions are host-bound at realistic sizes (a kernel takes tens of microseconds), so they avoid
/// TorchSharp calls that do nothing: an operand that already has the kernel's dtype and layout is passed as it is
/// (<see cref="Operand"/>), and a row map, which is always built contiguous by <see cref="BuildRowMap"/> and checked
/// contiguous by <see cref="TokenPermutation.Unpermute"/>, is not made contiguous again (the kernels' launch plans
/// and the CPU loops check it).
/// </remarks>
internal static class FusedRouting
{
    /// <summary>
    /// The row map of <paramref name="routingMap"/>, on its device, and the number of rows of the permuted output:
    /// <c>E·capacity</c> with drop-and-pad, else the number of routed pairs, read back to the host (on CUDA a
    /// synchronisation; drop-and-pad reads nothing back). See <see cref="QueueRowMap"/> for the overflow contract.
    /// </summary>
    public static (Tensor Map, long Rows) BuildRowMap(Tensor routingMap, long? capacity)
    {
        using var scope = NewDisposeScope();   // owns the build's scratch, which the count is read from
        var (map, rows) = QueueRowMap(routingMap, capacity);
        return (map.MoveToOuterDisposeScope(), rows.Read());
    }

    /// <summary>
    /// The row map of <paramref name="routingMap"/>, on its device, and the number of rows of the permuted output,
    /// without waiting for it: on CUDA the kernels are queued and the dropless count stays in device memory until
    /// <see cref="FusedRowCount.Read"/> (its scratch tensor belongs to the caller's dispose scope). Drop-and-pad's
    /// count is <c>E·capacity</c>, and the CPU builder's is known. The CPU builder throws
    /// <see cref="System.OverflowException"/> beyond <c>int.MaxValue</c> rows; the CUDA one counts on, and the caller
    /// must reject such a map (its rows have wrapped).
    /// </summary>
    /// <param name="routingMap"><c>[T, E]</c> bool or integer map; nonzero is routed.</param>
    /// <param name="capacity">Rows per expert for drop-and-pad (<c>E·capacity ≤ int.MaxValue</c>), or null.</param>
    public static (Tensor Map, FusedRowCount Rows) QueueRowMap(Tensor routingMap, long? capacity)
    {
        if (!routingMap.is_cuda)
        {
            var (cpuMap, cpuRows) = FusedRowMap.BuildOnCpu(routingMap, capacity);
            return (cpuMap, FusedRowCount.Known(cpuRows));
        }

        long tokenCount = routingMap.shape[0];
        int experts = checked((int)routingMap.shape[1]);
        var map = empty(new[] { tokenCount, (long)experts }, FusedRowMap.DType, routingMap.device);
        if (tokenCount == 0)
            return (map, FusedRowCount.Known(capacity is long c0 ? experts * c0 : 0));
        // The scan leaves the number of routed pairs in the last entry of the scratch.
        var counts = empty(FusedRoutingCudaKernels.RowMapCountsLength(tokenCount, experts), ScalarType.Int64, routingMap.device);
        using (NewDisposeScope())   // a converted copy of the routing map, if any, is not needed after the launches
            FusedRoutingCudaKernels.BuildRowMap(Operand(routingMap), capacity, counts, map);
        return (map, capacity is long c ? FusedRowCount.Known(experts * c) : FusedRowCount.InLastEntryOf(counts));
    }

    /// <summary>
    /// The fused unpermute's row-map check in one pass: the entries ≥ 0 (copies) and the largest entry (-1 for an
    /// empty map). On CUDA, one kernel and one small read-back (a synchronisation).
    /// </summary>
    /// <param name="rowMap">A contiguous int32 <c>[T, E]</c> map.</param>
    public static (long Copies, long LargestRow) SummarizeRowMap(Tensor rowMap)
    {
        using var scope = NewDisposeScope();
        return QueueRowMapSummary(rowMap)();
    }

    /// <summary>
    /// The check of <see cref="SummarizeRowMap"/>, queued: on CUDA the kernel is launched now and the returned
    /// function reads its per-block results back and reduces them (the synchronisation), so the caller can queue
    /// other work in between. The summaries tensor belongs to the caller's dispose scope, which must still be alive
    /// when the function is called. On the CPU the summary is computed at once.
    /// </summary>
    public static System.Func<(long Copies, long LargestRow)> QueueRowMapSummary(Tensor rowMap)
    {
        if (!rowMap.is_cuda)
        {
            var summary = FusedRoutingCpuKernels.SummarizeRowMap(rowMap);
            return () => summary;
        }

        long blocks = FusedRoutingCudaKernels.SummaryBlocks(rowMap.numel());
        if (blocks == 0)
            return () => (0, -1);
        var summaries = empty(2 * blocks, ScalarType.Int64, rowMap.device);
        FusedRoutingCudaKernels.SummarizeRowMap(rowMap, summaries);
        return () =>
        {
            using var onHost = summaries.cpu();
            var perBlock = onHost.data<long>().ToArray();
            long copies = 0, largest = -1;
            for (long b = 0; b < blocks; b++)
            {
                copies += perBlock[2 * b];
                largest = System.Math.Max(largest, perBlock[2 * b + 1]);
            }
            return (copies, largest);
        };
    }

    /// <summary>
    /// Permute forward. Returns the <c>[R, H]</c> permuted tokens and, with probs, the permuted probs, where
    /// <c>R</c> is <paramref name="rowCount"/>, read only after the operands are prepared (a pending count is the
    /// dropless read-back). Beyond <c>int.MaxValue</c> the map's int32 rows have wrapped: nothing is allocated or
    /// launched then (zero rows), and the caller rejects the map.
    /// </summary>
    public static (Tensor Permuted, Tensor? PermutedProbs) Permute(Tensor tokens, Tensor rowMap, FusedRowCount rowCount, Tensor? probs)
    {
        using var scope = NewDisposeScope();
        var (x, p) = (Operand(tokens), probs is null ? null : Operand(probs));
        long rows = rowCount.Read();
        if (rows > int.MaxValue)
            rows = 0;
        // A map built by Permute gives every row an owner (FusedRowMap), so the kernel writes every row; it skips
        // copies at or past the rows, so a count the caller gave that turns out wrong cannot make it write past them.
        var permuted = empty(new[] { rows, tokens.shape[1] }, tokens.dtype, tokens.device);
        var permutedProbs = probs is null ? null : empty(new[] { rows }, probs.dtype, probs.device);
        if (tokens.is_cuda) FusedRoutingCudaKernels.CopyToRows(x, rowMap, p, permuted, permutedProbs);
        else FusedRoutingCpuKernels.CopyToRows(x, rowMap, p, permuted, permutedProbs);
        return (permuted.MoveToOuterDisposeScope(), permutedProbs?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Gather-reduce (unpermute forward, permute backward): <c>[T, H]</c> sums of each token's rows (weighted by
    /// <paramref name="weights"/> when given), accumulated in <paramref name="accumulator"/> and returned in the
    /// dtype of <paramref name="rows"/>.
    /// </summary>
    public static Tensor GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, ScalarType accumulator)
    {
        using var scope = NewDisposeScope();
        var work = Operand(rows, WorkingDtype(rows.dtype, accumulator));
        var output = empty(new[] { rowMap.shape[0], rows.shape[1] }, work.dtype, rows.device);   // every token row is written
        var w = weights is null ? null : Operand(weights, accumulator);
        if (rows.is_cuda) FusedRoutingCudaKernels.GatherReduce(work, rowMap, w, output);
        else FusedRoutingCpuKernels.GatherReduce(work, rowMap, w, output);
        return Operand(output, rows.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Unpermute backward: the <c>[rowCount, H]</c> gradient of the rows (<c>w · grad[t]</c> at each copy's row, in
    /// <paramref name="rowsDtype"/>) and, when <paramref name="weightsGradDtype"/> is given, the <c>[T, E]</c>
    /// gradient of the weights in that dtype (zero where a token has no copy), which needs the forward's
    /// <paramref name="rows"/>.
    /// </summary>
    public static (Tensor RowsGrad, Tensor? WeightsGrad) GatherReduceBackward(
        Tensor grad, Tensor rowMap, long rowCount, ScalarType rowsDtype, Tensor? rows, Tensor? weights,
        ScalarType accumulator, ScalarType? weightsGradDtype)
    {
        using var scope = NewDisposeScope();
        var workDtype = WorkingDtype(rowsDtype, accumulator);
        var g = Operand(grad, workDtype);   // an upstream gradient is often an expanded (stride-0) view
        var x = weightsGradDtype is null ? null : Operand(rows!, workDtype);
        var w = weights is null ? null : Operand(weights, accumulator);
        // Every row of a map built by Permute has an owner, so every row gets written; zeros guard a partial map.
        var rowsGrad = zeros(new[] { rowCount, grad.shape[1] }, workDtype, grad.device);
        var weightsGrad = weightsGradDtype is null ? null : empty(rowMap.shape, accumulator, grad.device);
        if (grad.is_cuda) FusedRoutingCudaKernels.ScatterScaledWithDot(g, x, rowMap, w, rowsGrad, weightsGrad);
        else FusedRoutingCpuKernels.ScatterScaledWithDot(g, x, rowMap, w, rowsGrad, weightsGrad);
        return (Operand(rowsGrad, rowsDtype).MoveToOuterDisposeScope(),
                weightsGradDtype is ScalarType d ? Operand(weightsGrad!, d).MoveToOuterDisposeScope() : null);
    }

    /// <summary>Permute backward for the probs: <c>[T, E]</c> gradient gathered from the permuted probs' gradient.</summary>
    public static Tensor GatherProbsGrad(Tensor permutedProbsGrad, Tensor rowMap)
    {
        using var scope = NewDisposeScope();
        var probsGrad = empty(rowMap.shape, permutedProbsGrad.dtype, permutedProbsGrad.device);
        var source = Operand(permutedProbsGrad);
        if (permutedProbsGrad.is_cuda) FusedRoutingCudaKernels.GatherOrZero(source, rowMap, probsGrad);
        else FusedRoutingCpuKernels.GatherOrZero(source, rowMap, probsGrad);
        return probsGrad.MoveToOuterDisposeScope();
    }

    /// <summary>The dtype the kernels run on for rows of <paramref name="rowsDtype"/>: fp64 when accumulating in
    /// fp64, else the rows' own.</summary>
    private static ScalarType WorkingDtype(ScalarType rowsDtype, ScalarType accumulator)
        => accumulator == ScalarType.Float64 ? ScalarType.Float64 : rowsDtype;

    /// <summary>
    /// <paramref name="tensor"/> as a kernel operand of <paramref name="dtype"/> (its own by default), contiguous:
    /// the tensor itself when it already is one, without a TorchSharp call that would only make a new handle
    /// (<c>to</c> and <c>contiguous</c> return an alias then); else a converted contiguous copy.
    /// </summary>
    private static Tensor Operand(Tensor tensor, ScalarType? dtype = null)
    {
        var type = dtype ?? tensor.dtype;
        if (tensor.dtype == type && tensor.is_contiguous())
            return tensor;
        return tensor.to(type).contiguous();
    }
}
