using MoeOpGen.Engines;
using System;
using System.Numerics;
using System.Threading.Tasks;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// The loops of the fused CPU routing path, over raw tensor memory (see <see cref="FusedRowMap"/> for the row map).
/// Each token's outputs are written by one thread in a fixed order, so results do not depend on the thread count.
/// All tensors are contiguous CPU tensors; callers allocate the outputs.
/// </summary>
internal static unsafe class FusedRoutingCpuKernels
{
    /// <summary>Work per parallel task, so that small problems run inline instead of paying for task start-up.</summary>
    private const long BytesPerTask = 256 * 1024;

    /// <summary>
    /// Permute forward: copies each token's row to the rows of its copies, and <c>probs[t, e]</c> to
    /// <c>permutedProbs[map[t, e]]</c>, in one pass over the tokens. A byte copy, so any dtype works.
    /// </summary>
    public static void CopyToRows(Tensor tokens, Tensor rowMap, Tensor? probs, Tensor permuted, Tensor? permutedProbs)
    {
        long tokenCount = rowMap.shape[0];
        int experts = (int)rowMap.shape[1];
        long rowBytes = tokens.shape[1] * tokens.element_size();
        long probBytes = probs?.element_size() ?? 0;
        nint source = TensorMemory.Address(tokens), destination = TensorMemory.Address(permuted);
        nint map = TensorMemory.Address(rowMap);
        nint probSource = probs is null ? 0 : TensorMemory.Address(probs);
        nint probDestination = permutedProbs is null ? 0 : TensorMemory.Address(permutedProbs);

        ForEachTokenRange(tokenCount, rowBytes * 2, (first, end) =>
        {
            int* rows = (int*)map;
            for (long t = first; t < end; t++)
            {
                byte* tokenRow = (byte*)source + t * rowBytes;
                for (int e = 0; e < experts; e++)
                {
                    long row = rows[t * experts + e];
                    if (row < 0) continue;
                    Buffer.MemoryCopy(tokenRow, (byte*)destination + row * rowBytes, rowBytes, rowBytes);
                    if (probSource != 0)
                        Buffer.MemoryCopy((byte*)probSource + (t * experts + e) * probBytes,
                                          (byte*)probDestination + row * probBytes, probBytes, probBytes);
                }
            }
        });
    }

    /// <summary>The gather-reduce for <paramref name="rows"/>' dtype (fp32, fp64, fp16 or bf16); see the generic overload.</summary>
    public static void GatherReduce(Tensor rows, Tensor rowMap, Tensor? weights, Tensor output)
    {
        switch (rows.dtype)
        {
            case ScalarType.Float32: GatherReduce<float, float, Fp32Element>(rows, rowMap, weights, output); break;
            case ScalarType.Float64: GatherReduce<double, double, Fp64Element>(rows, rowMap, weights, output); break;
            case ScalarType.Float16: GatherReduce<Half, float, Fp16Element>(rows, rowMap, weights, output); break;
            case ScalarType.BFloat16: GatherReduce<ushort, float, Bf16Element>(rows, rowMap, weights, output); break;
            default: throw UnsupportedDtype(rows.dtype);
        }
    }

    /// <summary>The unpermute backward for <paramref name="grad"/>'s dtype (fp32, fp64, fp16 or bf16); see the
    /// generic overload.</summary>
    public static void ScatterScaledWithDot(Tensor grad, Tensor? rows, Tensor rowMap, Tensor? weights, Tensor rowGrad, Tensor? weightGrad)
    {
        switch (grad.dtype)
        {
            case ScalarType.Float32: ScatterScaledWithDot<float, float, Fp32Element>(grad, rows, rowMap, weights, rowGrad, weightGrad); break;
            case ScalarType.Float64: ScatterScaledWithDot<double, double, Fp64Element>(grad, rows, rowMap, weights, rowGrad, weightGrad); break;
            case ScalarType.Float16: ScatterScaledWithDot<Half, float, Fp16Element>(grad, rows, rowMap, weights, rowGrad, weightGrad); break;
            case ScalarType.BFloat16: ScatterScaledWithDot<ushort, float, Bf16Element>(grad, rows, rowMap, weights, rowGrad, weightGrad); break;
            default: throw UnsupportedDtype(grad.dtype);
        }
    }

    /// <summary>
    /// Gather-reduce (unpermute forward, permute backward): <c>output[t] = Σ_e w[t, e] · rows[map[t, e]]</c> over the
    /// token's copies in ascending expert order, accumulated in <typeparamref name="TAccumulator"/> from zero and
    /// rounded once. Without weights <c>w ≡ 1</c>. Tokens with no copy get zeros.
    /// </summary>
    /// <param name="rows"><c>[R, H]</c> rows of the permuted layout.</param>
    /// <param name="rowMap">The <c>[T, E]</c> row map.</param>
    /// <param name="weights"><c>[T, E]</c> weights in the accumulator dtype, or null.</param>
    /// <param name="output"><c>[T, H]</c>, the dtype of <paramref name="rows"/>.</param>
    public static void GatherReduce<TElement, TAccumulator, TCodec>(Tensor rows, Tensor rowMap, Tensor? weights, Tensor output)
        where TElement : unmanaged
        where TAccumulator : unmanaged, IFloatingPointIeee754<TAccumulator>
        where TCodec : IElement<TElement, TAccumulator>
    {
        long tokenCount = rowMap.shape[0];
        int experts = (int)rowMap.shape[1];
        long hidden = output.shape[1];
        nint source = TensorMemory.Address(rows), destination = TensorMemory.Address(output);
        nint map = TensorMemory.Address(rowMap);
        nint weightAddress = weights is null ? 0 : TensorMemory.Address(weights);

        ForEachTokenRange(tokenCount, hidden * sizeof(TElement) * 2, (first, end) =>
        {
            var sum = new TAccumulator[hidden];
            int* rowOf = (int*)map;
            for (long t = first; t < end; t++)
            {
                Array.Clear(sum);
                for (int e = 0; e < experts; e++)
                {
                    long row = rowOf[t * experts + e];
                    if (row < 0) continue;
                    TAccumulator weight = weightAddress == 0 ? TAccumulator.One : ((TAccumulator*)weightAddress)[t * experts + e];
                    TElement* x = (TElement*)source + row * hidden;
                    for (long h = 0; h < hidden; h++)
                        sum[h] += weight * TCodec.Load(x[h]);   // .NET never contracts this into an FMA
                }
                TElement* y = (TElement*)destination + t * hidden;
                for (long h = 0; h < hidden; h++)
                    y[h] = TCodec.Store(sum[h]);
            }
        });
    }

    /// <summary>
    /// Unpermute backward: for each copy <c>(t, e)</c> at row <c>r</c>, <c>rowGrad[r] = w[t, e] · grad[t]</c> and,
    /// when <paramref name="weightGrad"/> is given, <c>weightGrad[t, e] = Σ_h rows[r, h] · grad[t, h]</c>
    /// (zero where the token has no copy). Both in the accumulator type, rounded once. <paramref name="rows"/> is
    /// only read for the weight gradient.
    /// </summary>
    public static void ScatterScaledWithDot<TElement, TAccumulator, TCodec>(
        Tensor grad, Tensor? rows, Tensor rowMap, Tensor? weights, Tensor rowGrad, Tensor? weightGrad)
        where TElement : unmanaged
        where TAccumulator : unmanaged, IFloatingPointIeee754<TAccumulator>
        where TCodec : IElement<TElement, TAccumulator>
    {
        long tokenCount = rowMap.shape[0];
        int experts = (int)rowMap.shape[1];
        long hidden = grad.shape[1];
        nint gradAddress = TensorMemory.Address(grad), rowAddress = rows is null ? 0 : TensorMemory.Address(rows);
        nint map = TensorMemory.Address(rowMap), rowGradAddress = TensorMemory.Address(rowGrad);
        nint weightAddress = weights is null ? 0 : TensorMemory.Address(weights);
        nint weightGradAddress = weightGrad is null ? 0 : TensorMemory.Address(weightGrad);

        ForEachTokenRange(tokenCount, hidden * sizeof(TElement) * 3, (first, end) =>
        {
            int* rowOf = (int*)map;
            for (long t = first; t < end; t++)
            {
                TElement* g = (TElement*)gradAddress + t * hidden;
                for (int e = 0; e < experts; e++)
                {
                    long at = t * experts + e;
                    long row = rowOf[at];
                    if (row < 0)
                    {
                        if (weightGradAddress != 0) ((TAccumulator*)weightGradAddress)[at] = TAccumulator.Zero;
                        continue;
                    }
                    TAccumulator weight = weightAddress == 0 ? TAccumulator.One : ((TAccumulator*)weightAddress)[at];
                    TElement* dx = (TElement*)rowGradAddress + row * hidden;
                    for (long h = 0; h < hidden; h++)
                        dx[h] = TCodec.Store(weight * TCodec.Load(g[h]));
                    if (weightGradAddress == 0) continue;
                    TElement* x = (TElement*)rowAddress + row * hidden;
                    TAccumulator dot = TAccumulator.Zero;
                    for (long h = 0; h < hidden; h++)
                        dot += TCodec.Load(x[h]) * TCodec.Load(g[h]);
                    ((TAccumulator*)weightGradAddress)[at] = dot;
                }
            }
        });
    }

    /// <summary>
    /// Permute backward for the probs: <c>probsGrad[t, e] = permutedProbsGrad[map[t, e]]</c>, zero where there is
    /// no copy. A byte copy (all-zero bits are +0 in every float format).
    /// </summary>
    public static void GatherOrZero(Tensor permutedProbsGrad, Tensor rowMap, Tensor probsGrad)
    {
        long pairs = rowMap.numel();
        long elementBytes = probsGrad.element_size();
        nint source = TensorMemory.Address(permutedProbsGrad), destination = TensorMemory.Address(probsGrad);
        nint map = TensorMemory.Address(rowMap);
        ForEachTokenRange(pairs, elementBytes * 2, (first, end) =>
        {
            int* rowOf = (int*)map;
            for (long i = first; i < end; i++)
            {
                long row = rowOf[i];
                byte* to = (byte*)destination + i * elementBytes;
                if (row < 0) new Span<byte>(to, (int)elementBytes).Clear();
                else Buffer.MemoryCopy((byte*)source + row * elementBytes, to, elementBytes, elementBytes);
            }
        });
    }

    /// <summary>The fused unpermute's row-map check: the number of entries ≥ 0 (copies) and the largest entry
    /// (-1 for an empty map), in one pass.</summary>
    public static (long Copies, long LargestRow) SummarizeRowMap(Tensor rowMap)
    {
        long pairs = rowMap.numel(), copies = 0;
        int largest = -1;
        nint map = TensorMemory.Address(rowMap);
        var gate = new object();
        ForEachTokenRange(pairs, sizeof(int), (first, end) =>
        {
            int* rowOf = (int*)map;
            long rangeCopies = 0;
            int rangeLargest = -1;
            for (long i = first; i < end; i++)
            {
                int row = rowOf[i];
                if (row >= 0) rangeCopies++;
                if (row > rangeLargest) rangeLargest = row;
            }
            lock (gate)   // once per range
            {
                copies += rangeCopies;
                largest = Math.Max(largest, rangeLargest);
            }
        });
        return (copies, largest);
    }

    private static InvalidOperationException UnsupportedDtype(ScalarType dtype)
        => new($"Internal error: the fused CPU routing kernels got a {dtype} tensor (checked by TokenPermutation).");

    /// <summary>Runs <paramref name="body"/> over <c>[0, count)</c> in ranges of about <see cref="BytesPerTask"/>.</summary>
    private static void ForEachTokenRange(long count, long bytesPerItem, Action<long, long> body)
    {
        long perTask = Math.Max(1, BytesPerTask / Math.Max(1, bytesPerItem));
        long tasks = (count + perTask - 1) / perTask;
        if (tasks <= 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, tasks, task => body(task * perTask, Math.Min(count, (task + 1) * perTask)));
    }
}
