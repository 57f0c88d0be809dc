using System;
using System.Collections.Generic;
using MoeOpGen.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// <c>bench routing</c>: <c>MoeUtils.Permute</c> / <c>Unpermute</c>, non-fused and fused, with and without probs,
/// forward and forward+backward, on top-k routing of T = rows / topk tokens of the permute width, and the parts of
/// the fused path (its row map, its kernels alone). A path that throws <see cref="NotSupportedException"/> is
/// reported "not available".
/// </summary>
internal sealed class RoutingBench(BenchDevice device, RowRunner rows, Action save)
{
    public void Run(IReadOnlyList<ModelShape> shapes, IReadOnlyList<BenchDtype> dtypes)
    {
        foreach (var dtype in dtypes)
        {
            foreach (var shape in shapes)
            {
                using (var scope = NewDisposeScope()) RunBlock(shape, dtype);
                StepTimer.CollectGarbage();
                save();
            }
        }
    }

    private void RunBlock(ModelShape shape, BenchDtype dtype)
    {
        long t = shape.Tokens, p = shape.PermuteHidden, x = shape.Experts, k = shape.TopK, n = t * k;
        int e = dtype.Size;
        var dev = device.Device;
        manual_seed(1);
        var logits = randn([t, x], ScalarType.Float32, dev);
        var (topValues, topIndices) = logits.softmax(-1).topk((int)k, dim: -1);
        var routingMap = zeros([t, x], ScalarType.Bool, dev).scatter_(1, topIndices, ones_like(topIndices, ScalarType.Bool));
        var probs = zeros([t, x], ScalarType.Float32, dev).scatter_(1, topIndices, topValues);
        var tokens = randn([t, p], dtype.Type, dev);
        var tokLeaf = tokens.detach().clone().requires_grad_(true);
        var probsLeaf = probs.detach().clone().requires_grad_(true);
        var gRows = randn([n, p], dtype.Type, dev);
        var gProbs = randn([n], ScalarType.Float32, dev);
        var permutedRows = randn([n, p], dtype.Type, dev);
        var permLeaf = permutedRows.detach().clone().requires_grad_(true);
        var gOut = randn([t, p], dtype.Type, dev);
        long[] restore = [t, p];

        void ClearGrads()
        {
            tokLeaf.grad = null;
            probsLeaf.grad = null;
            permLeaf.grad = null;
        }

        foreach (bool fused in new[] { false, true })
        {
            string impl = fused ? "moeopgen-fused" : "moeopgen";
            foreach (bool withProbs in new[] { true, false })
            {
                var pr = withProbs ? probs : null;
                var prLeaf = withProbs ? probsLeaf : null;
                rows.Measure(Row("permute", impl, shape, dtype, [t, p], "fwd", withProbs, ByteModel.PermuteForward(t, p, x, n, e, withProbs)),
                    () => MoeUtils.Permute(tokens, routingMap, pr, fused: fused), null);
                // The rows above pass no numOutTokens, as the peers script calls the reference (whose non-fused
                // dropless path ignores it). The reference's callers pass the routed count they computed
                // (tokens_per_expert.sum().item(), a sync they pay outside permute); with it the fused path queues its
                // copy before reading the count back. This row times that call; the count is computed outside the
                // timing, as the callers do (top-k routing: exactly T·k).
                if (fused)
                    rows.Measure(Row("permute", impl, shape, dtype, [t, p], "fwd", withProbs, ByteModel.PermuteForward(t, p, x, n, e, withProbs),
                            ", numOutTokens given"),
                        () => MoeUtils.Permute(tokens, routingMap, pr, numOutTokens: n, fused: true), null);
                rows.Measure(Row("permute", impl, shape, dtype, [t, p], "fwd+bwd", withProbs,
                        ByteModel.PermuteForward(t, p, x, n, e, withProbs) + ByteModel.PermuteBackward(t, p, x, n, e, withProbs)),
                    () =>
                    {
                        var (permuted, permutedProbs, _) = MoeUtils.Permute(tokLeaf.view(tokLeaf.shape), routingMap, prLeaf, fused: fused);
                        if (permutedProbs is null) permuted.backward([gRows]);
                        else autograd.backward([permuted, permutedProbs], [gRows, gProbs]);
                    }, ClearGrads);
            }

            if (fused)
                FusedParts(shape, dtype, tokens, routingMap, probs, permutedRows);

            // The index tensor of this path (token ids, or the fused row map) for the unpermute rows.
            Tensor? indices = null;
            string? unavailable = null;
            try
            {
                indices = MoeUtils.Permute(tokens, routingMap, probs, fused: fused).SortedIndices;
            }
            catch (NotSupportedException ex)
            {
                unavailable = ex.Message;
            }
            foreach (bool withProbs in new[] { false, true })
            {
                var pr = withProbs ? probs : null;
                var map = withProbs ? routingMap : null;
                var fwdRow = Row("unpermute", impl, shape, dtype, [n, p], "fwd", withProbs, ByteModel.UnpermuteForward(t, p, x, n, e, withProbs));
                var bothRow = Row("unpermute", impl, shape, dtype, [n, p], "fwd+bwd", withProbs,
                    ByteModel.UnpermuteForward(t, p, x, n, e, withProbs) + ByteModel.UnpermuteBackward(t, p, x, n, e, withProbs));
                if (indices is null)
                {
                    rows.NotAvailable(fwdRow, unavailable!);
                    rows.NotAvailable(bothRow, unavailable!);
                    continue;
                }
                rows.Measure(fwdRow, () => MoeUtils.Unpermute(permutedRows, indices, restore, pr, map, fused: fused), null);
                var prLeaf = withProbs ? probsLeaf : null;
                rows.Measure(bothRow, () => MoeUtils.Unpermute(permLeaf.view(permLeaf.shape), indices, restore, prLeaf, map, fused: fused).backward([gOut]),
                    ClearGrads);
            }
        }
        ClearGrads();
    }

    /// <summary>
    /// Where the fused path's time goes, through the runtime's internal entry points: the row-map step of the fused
    /// permute alone (its three kernels and, dropless, the read-back of the routed count), and the permute and
    /// unpermute kernels alone on a map built once outside the timing (no autograd, no argument checks, no
    /// read-back). The gap between these rows and the whole operations is host work.
    /// </summary>
    private void FusedParts(ModelShape shape, BenchDtype dtype, Tensor tokens, Tensor routingMap, Tensor probs, Tensor permutedRows)
    {
        long t = shape.Tokens, p = shape.PermuteHidden, x = shape.Experts, n = t * shape.TopK;
        int e = dtype.Size;
        rows.Measure(Part("permute row map", shape, dtype, [t, x], t * x * (1 + 4)),
            () => _ = Moe.FusedRouting.BuildRowMap(routingMap, capacity: null), null);
        var (rowMap, rowCount) = Moe.FusedRouting.BuildRowMap(routingMap, capacity: null);
        rows.Measure(Part("permute probs kernel", shape, dtype, [t, p], ByteModel.PermuteForward(t, p, x, n, e, true)),
            () => _ = Moe.FusedRouting.Permute(tokens, rowMap, Moe.FusedRowCount.Known(rowCount), probs), null);
        rows.Measure(Part("unpermute probs kernel", shape, dtype, [n, p], ByteModel.UnpermuteForward(t, p, x, n, e, true)),
            () => _ = Moe.FusedRouting.GatherReduce(permutedRows, rowMap, probs, ScalarType.Float32), null);
    }

    private static BenchRow Part(string name, ModelShape shape, BenchDtype dtype, long[] inShape, long bytes) => new()
    {
        Name = name + " fused (part)",
        Impl = "moeopgen-fused-part",
        Model = shape.Key,
        Shape = inShape,
        Dtype = dtype.Key,
        Op = "fwd",
        Variant = "part",
        Case = $"{name} fwd (part of the fused op)",
        Bytes = bytes,
    };

    private static BenchRow Row(string family, string impl, ModelShape shape, BenchDtype dtype, long[] inShape, string phase, bool withProbs, long bytes,
        string how = "")
    {
        string variant = (withProbs ? "probs" : "plain") + how;
        return new BenchRow
        {
            Name = $"{family} {variant}" + (impl.EndsWith("fused", StringComparison.Ordinal) ? " fused" : ""),
            Impl = impl,
            Model = shape.Key,
            Shape = inShape,
            Dtype = dtype.Key,
            Op = phase,
            Variant = variant,
            Case = $"{family} {variant} {phase}",
            Bytes = bytes,
        };
    }
}
