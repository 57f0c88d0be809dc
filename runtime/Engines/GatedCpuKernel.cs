using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using MoeOpGen.Cuda.Interop;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// The fused CPU kernel of every gated operator: one pass over memory, rows split into a fixed number of chunks
/// run in parallel, the maths inlined through the generic struct <typeparamref name="TM"/>. Arithmetic in fp32
/// for fp32/fp16/bf16 storage, fp64 for fp64. Reductions (weights and bias gradients) are summed in a fixed
/// order, so results do not depend on the thread count.
/// </summary>
/// <remarks>
/// <para>fp32/fp16/bf16 rows run eight elements at a time through the maths' <c>Vector256&lt;float&gt;</c> members
/// (the generated straight-line program with <see cref="VectorMath"/>), the last <c>H mod 8</c> elements through the
/// scalar members, which stay the reference: the two differ only by VectorMath's few-ulp rounding of exp, erf, … and,
/// for the weights gradient, by summing eight partial sums (still a fixed order). The scalar loop runs everything
/// for fp64, for the FP8 input store (its encoding is scalar), where <see cref="Vector256.IsHardwareAccelerated"/>
/// is false (no AVX2), and when a caller asks for it (the tests compare both paths).</para>
/// <para>The interleaved layout is read as 16 consecutive elements and split into gate and linear lanes by two
/// permutes (and joined back the same way), so it vectorises like the halves layout; bf16 needs no permutes (each
/// 32-bit word is one pair, see <see cref="Bf16Element.LoadPairs"/>).</para>
/// </remarks>
internal static unsafe class GatedCpuKernel<TM> where TM : struct, IGatedMaths
{
    /// <summary>Rows are cut into at most this many chunks: fixed, so the bias-gradient sum order is too.</summary>
    private const int Chunks = 64;

    private const int Lanes = 8;

    /// <summary>The pointers and sizes of one call (pointers are null for absent tensors).</summary>
    private struct Buffers
    {
        public IntPtr X, X8, W, Bias, Out, Grad, Dx, Dw;
        public long Rows, Hidden;
        public bool Interleaved, HasClamp;
        public double Clamp;
    }

    /// <summary>Fills <paramref name="output"/> (and the FP8 copy <paramref name="x8"/> when given); <paramref name="vectorise"/> false runs the scalar loop only (the reference the tests hold the vector loop to).</summary>
    public static void Forward(TM maths, GatedCall call, Tensor input, Tensor? weights, Tensor? bias, Tensor output, Tensor? x8, bool vectorise = true)
    {
        var b = Pointers(call, input, weights, bias, x8);
        var buffers = b with { Out = LibTorchSharpNative.DataPointer(output) };
        bool vectors = vectorise && Vector256.IsHardwareAccelerated && x8 is null;
        switch (input.dtype)
        {
            case ScalarType.Float32 when vectors: ForwardRows<float, Fp32Element>(maths, buffers); break;
            case ScalarType.Float16 when vectors: ForwardRows<Half, Fp16Element>(maths, buffers); break;
            case ScalarType.BFloat16 when vectors: ForwardRows<ushort, Bf16Element>(maths, buffers); break;
            case ScalarType.Float32: ScalarForwardRows<float, float, Fp32Element, Fp32Arithmetic>(maths, buffers); break;
            case ScalarType.Float64: ScalarForwardRows<double, double, Fp64Element, Fp64Arithmetic>(maths, buffers); break;
            case ScalarType.Float16: ScalarForwardRows<Half, float, Fp16Element, Fp32Arithmetic>(maths, buffers); break;
            default: ScalarForwardRows<ushort, float, Bf16Element, Fp32Arithmetic>(maths, buffers); break;
        }
    }

    /// <summary>Fills <paramref name="inputGrad"/>, and <paramref name="weightsGrad"/> (fp32/fp64 [rows]) and <paramref name="biasGrad"/> (fp32/fp64 [2H], logical order: gate then linear) when given; <paramref name="vectorise"/> as in <see cref="Forward"/>.</summary>
    public static void Backward(TM maths, GatedCall call, ScalarType dtype, Tensor grad, Tensor? input, Tensor? x8, Tensor? weights, Tensor? bias,
                                Tensor inputGrad, Tensor? weightsGrad, Tensor? biasGrad, bool vectorise = true)
    {
        var b = Pointers(call, input, weights, bias, x8) with
        {
            Grad = LibTorchSharpNative.DataPointer(grad),
            Dx = LibTorchSharpNative.DataPointer(inputGrad),
            Dw = weightsGrad is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(weightsGrad),
        };
        bool vectors = vectorise && Vector256.IsHardwareAccelerated && x8 is null;
        switch (dtype)
        {
            case ScalarType.Float32 when vectors: BackwardRows<float, float, Fp32Element, Fp32Arithmetic>(maths, b, biasGrad, VectorBackwardRow<float, Fp32Element>); break;
            case ScalarType.Float16 when vectors: BackwardRows<Half, float, Fp16Element, Fp32Arithmetic>(maths, b, biasGrad, VectorBackwardRow<Half, Fp16Element>); break;
            case ScalarType.BFloat16 when vectors: BackwardRows<ushort, float, Bf16Element, Fp32Arithmetic>(maths, b, biasGrad, VectorBackwardRow<ushort, Bf16Element>); break;
            case ScalarType.Float32: BackwardRows<float, float, Fp32Element, Fp32Arithmetic>(maths, b, biasGrad, null); break;
            case ScalarType.Float64: BackwardRows<double, double, Fp64Element, Fp64Arithmetic>(maths, b, biasGrad, null); break;
            case ScalarType.Float16: BackwardRows<Half, float, Fp16Element, Fp32Arithmetic>(maths, b, biasGrad, null); break;
            default: BackwardRows<ushort, float, Bf16Element, Fp32Arithmetic>(maths, b, biasGrad, null); break;
        }
    }

    private static Buffers Pointers(GatedCall call, Tensor? input, Tensor? weights, Tensor? bias, Tensor? x8) => new()
    {
        X = input is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(input),
        X8 = x8 is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(x8),
        W = weights is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(weights),
        Bias = bias is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(bias),
        Rows = call.Rows,
        Hidden = call.Hidden,
        Interleaved = call.Interleaved,
        HasClamp = call.Clamp.HasValue,
        Clamp = call.Clamp ?? 0,
    };

    // ---- Forward ----------------------------------------------------------------------------------------------

    private static void ScalarForwardRows<TS, TR, TE, TA>(TM maths, Buffers b)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        ForEachChunk(b.Rows, (first, end, _) =>
        {
            for (long r = first; r < end; r++) ForwardElements<TS, TR, TE, TA>(maths, b, r, 0);
        });
    }

    /// <summary>Eight elements at a time, then the row's tail through the scalar loop.</summary>
    private static void ForwardRows<TS, TE>(TM maths, Buffers b)
        where TS : unmanaged where TE : struct, IVectorElement<TS>
    {
        ForEachChunk(b.Rows, (first, end, _) =>
        {
            long h = b.Hidden, vectorEnd = h - h % Lanes;
            var c = Vector256.Create((float)b.Clamp);
            for (long r = first; r < end; r++)
            {
                TS* x = (TS*)b.X + r * 2 * h;
                TS* y = (TS*)b.Out + r * h;
                float w = b.W == IntPtr.Zero ? 1f : ((float*)b.W)[r];
                for (long j = 0; j < vectorEnd; j += Lanes)
                {
                    var (a, l) = LoadPair<TS, TE>(x, j, h, b.Interleaved);
                    if (b.HasClamp)
                    {
                        a = Vector256.ConditionalSelect(Vector256.GreaterThan(a, c), c, a);
                        l = Vector256.ConditionalSelect(Vector256.GreaterThan(l, c), c, Vector256.ConditionalSelect(Vector256.LessThan(l, -c), -c, l));
                    }
                    if (b.Bias != IntPtr.Zero)
                    {
                        var (ba, bl) = LoadPair<TS, TE>((TS*)b.Bias, j, h, b.Interleaved);
                        a += ba;
                        l += bl;
                    }
                    TE.StoreVector(maths.Forward(a, l) * w, y + j);
                }
                ForwardElements<TS, float, TE, Fp32Arithmetic>(maths, b, r, vectorEnd);
            }
        });
    }

    /// <summary>The scalar forward of row <paramref name="r"/> from element <paramref name="from"/> on: clamp, FP8 copy, bias, f, × w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardElements<TS, TR, TE, TA>(in TM maths, in Buffers b, long r, long from)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        long h = b.Hidden;
        TR c = TR.CreateTruncating(b.Clamp);
        TS* x = (TS*)b.X + r * 2 * h;
        TS* y = (TS*)b.Out + r * h;
        byte* x8 = b.X8 == IntPtr.Zero ? null : (byte*)b.X8 + r * 2 * h;
        TR w = b.W == IntPtr.Zero ? TR.One : ((TR*)b.W)[r];
        for (long j = from; j < h; j++)
        {
            long ia = b.Interleaved ? 2 * j : j, ib = b.Interleaved ? 2 * j + 1 : h + j;
            TR a = TE.Load(x[ia]), l = TE.Load(x[ib]);
            bool clippedA = false, clippedL = false;
            if (b.HasClamp)
            {
                if (a > c) { a = c; clippedA = true; }
                if (l > c) { l = c; clippedL = true; } else if (l < -c) { l = -c; clippedL = true; }
            }
            if (x8 != null)
            {
                x8[ia] = clippedA ? Fp8E4M3.NaN : Fp8E4M3.Encode(float.CreateTruncating(a));
                x8[ib] = clippedL ? (byte)(l > TR.Zero ? 0x7f : 0xff) : Fp8E4M3.Encode(float.CreateTruncating(l));
            }
            if (b.Bias != IntPtr.Zero) { a += TE.Load(((TS*)b.Bias)[ia]); l += TE.Load(((TS*)b.Bias)[ib]); }
            y[j] = TE.Store(TA.Forward(maths, a, l) * w);
        }
    }

    // ---- Backward ---------------------------------------------------------------------------------------------

    /// <summary>
    /// The vector part of one backward row: elements [0, H − H mod 8) of row <paramref name="r"/>; adds to the
    /// chunk's bias-gradient partial (if any) and returns the row's partial weights gradient Σ f·g.
    /// </summary>
    private delegate float VectorRow(in TM maths, in Buffers b, long r, float* dbias);

    private static void BackwardRows<TS, TR, TE, TA>(TM maths, Buffers b, Tensor? biasGrad, VectorRow? vectorRow)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        long h = b.Hidden;
        bool hasBias = biasGrad is not null;
        long vectorEnd = vectorRow is null ? 0 : h - h % Lanes;
        // One partial bias-gradient row per chunk, summed in chunk order below: deterministic.
        var partials = hasBias ? new TR[Chunks][] : null;
        ForEachChunk(b.Rows, (first, end, chunk) =>
        {
            var dbias = hasBias ? (partials![chunk] = new TR[2 * h]) : null;
            fixed (TR* db = dbias)
            {
                for (long r = first; r < end; r++)
                {
                    TR dw = vectorRow is null ? TR.Zero : TR.CreateTruncating(vectorRow(maths, b, r, (float*)db));
                    dw += BackwardElements<TS, TR, TE, TA>(maths, b, r, vectorEnd, db);
                    if (b.Dw != IntPtr.Zero) ((TR*)b.Dw)[r] = dw;
                }
            }
        });
        if (biasGrad is null) return;
        var total = (TR*)LibTorchSharpNative.DataPointer(biasGrad);
        for (long j = 0; j < 2 * h; j++) total[j] = TR.Zero;
        foreach (var partial in partials!)
        {
            if (partial is null) continue;
            for (long j = 0; j < 2 * h; j++) total[j] += partial[j];
        }
    }

    private static float VectorBackwardRow<TS, TE>(in TM maths, in Buffers b, long r, float* dbias)
        where TS : unmanaged where TE : struct, IVectorElement<TS>
    {
        long h = b.Hidden, vectorEnd = h - h % Lanes;
        var c = Vector256.Create((float)b.Clamp);
        TS* x = (TS*)b.X + r * 2 * h;
        TS* g = (TS*)b.Grad + r * h;
        TS* dx = (TS*)b.Dx + r * 2 * h;
        float w = b.W == IntPtr.Zero ? 1f : ((float*)b.W)[r];
        var dw = Vector256<float>.Zero;
        for (long j = 0; j < vectorEnd; j += Lanes)
        {
            var (a, l) = LoadPair<TS, TE>(x, j, h, b.Interleaved);
            Vector256<float> clippedA = default, clippedL = default;
            if (b.HasClamp)
            {
                clippedA = Vector256.GreaterThan(a, c);
                var above = Vector256.GreaterThan(l, c);
                var below = Vector256.LessThan(l, -c);
                clippedL = above | below;
                a = Vector256.ConditionalSelect(clippedA, c, a);
                l = Vector256.ConditionalSelect(above, c, Vector256.ConditionalSelect(below, -c, l));
            }
            if (b.Bias != IntPtr.Zero)
            {
                var (ba, bl) = LoadPair<TS, TE>((TS*)b.Bias, j, h, b.Interleaved);
                a += ba;
                l += bl;
            }
            var gj = TE.LoadVector(g + j);
            var value = maths.ValueAndGradients(a, l, gj * w, out var dA, out var dL);
            dw += value * gj;
            if (dbias != null)
            {
                (Vector256.Load(dbias + j) + dA).Store(dbias + j);
                (Vector256.Load(dbias + h + j) + dL).Store(dbias + h + j);
            }
            // A clipped element gets a zero gradient (+0, as the scalar loop's passA ? dA : 0).
            StorePair<TS, TE>(Vector256.AndNot(dA, clippedA), Vector256.AndNot(dL, clippedL), dx, j, h, b.Interleaved);
        }
        return Vector256.Sum(dw);
    }

    /// <summary>The scalar backward of row <paramref name="r"/> from element <paramref name="from"/> on; returns its part of Σ f·g.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TR BackwardElements<TS, TR, TE, TA>(in TM maths, in Buffers b, long r, long from, TR* dbias)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        long h = b.Hidden;
        TR c = TR.CreateTruncating(b.Clamp);
        TS* g = (TS*)b.Grad + r * h;
        TS* dx = (TS*)b.Dx + r * 2 * h;
        TR w = b.W == IntPtr.Zero ? TR.One : ((TR*)b.W)[r];
        TR dw = TR.Zero;
        for (long j = from; j < h; j++)
        {
            long ia = b.Interleaved ? 2 * j : j, ib = b.Interleaved ? 2 * j + 1 : h + j;
            TR a, l;
            bool passA = true, passL = true;
            if (b.X8 != IntPtr.Zero)
            {
                byte qa = ((byte*)b.X8)[r * 2 * h + ia], ql = ((byte*)b.X8)[r * 2 * h + ib];
                if (b.HasClamp && Fp8E4M3.IsNaN(qa)) { passA = false; a = c; } else a = TR.CreateTruncating(Fp8E4M3.Decode(qa));
                if (b.HasClamp && Fp8E4M3.IsNaN(ql)) { passL = false; l = (ql & 0x80) != 0 ? -c : c; } else l = TR.CreateTruncating(Fp8E4M3.Decode(ql));
            }
            else
            {
                TS* x = (TS*)b.X + r * 2 * h;
                a = TE.Load(x[ia]); l = TE.Load(x[ib]);
                if (b.HasClamp)
                {
                    if (a > c) { a = c; passA = false; }
                    if (l > c) { l = c; passL = false; } else if (l < -c) { l = -c; passL = false; }
                }
            }
            if (b.Bias != IntPtr.Zero) { a += TE.Load(((TS*)b.Bias)[ia]); l += TE.Load(((TS*)b.Bias)[ib]); }
            TR gj = TE.Load(g[j]);
            TR value = TA.ValueAndGradients(maths, a, l, gj * w, out var dA, out var dL);
            dw += value * gj;
            if (dbias != null) { dbias[j] += dA; dbias[h + j] += dL; }
            dx[ia] = TE.Store(passA ? dA : TR.Zero);
            dx[ib] = TE.Store(passL ? dL : TR.Zero);
        }
        return dw;
    }

    // ---- Layout -----------------------------------------------------------------------------------------------

    /// <summary>Gate and linear elements j … j+7 of a row of 2H (or of the bias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Gate, Vector256<float> Linear) LoadPair<TS, TE>(TS* row, long j, long h, bool interleaved)
        where TS : unmanaged where TE : struct, IVectorElement<TS>
    {
        if (!interleaved) return (TE.LoadVector(row + j), TE.LoadVector(row + h + j));
        if (typeof(TE) == typeof(Bf16Element)) return Bf16Element.LoadPairs((ushort*)(row + 2 * j));   // folded by the JIT
        // [g0 l0 g1 l1 g2 l2 g3 l3] → [g0 g1 g2 g3 l0 l1 l2 l3], likewise for the next eight, then halves joined.
        var evensFirst = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
        var low = Vector256.Shuffle(TE.LoadVector(row + 2 * j), evensFirst);
        var high = Vector256.Shuffle(TE.LoadVector(row + 2 * j + Lanes), evensFirst);
        return (Vector256.Create(low.GetLower(), high.GetLower()), Vector256.Create(low.GetUpper(), high.GetUpper()));
    }

    /// <summary>Stores gate and linear elements j … j+7 of a row of 2H: the inverse of <see cref="LoadPair"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair<TS, TE>(Vector256<float> gate, Vector256<float> linear, TS* row, long j, long h, bool interleaved)
        where TS : unmanaged where TE : struct, IVectorElement<TS>
    {
        if (!interleaved)
        {
            TE.StoreVector(gate, row + j);
            TE.StoreVector(linear, row + h + j);
            return;
        }
        if (typeof(TE) == typeof(Bf16Element))
        {
            Bf16Element.StorePairs(gate, linear, (ushort*)(row + 2 * j));
            return;
        }
        // [g0 g1 g2 g3 l0 l1 l2 l3] → [g0 l0 g1 l1 g2 l2 g3 l3], likewise for lanes 4…7.
        var pairs = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        TE.StoreVector(Vector256.Shuffle(Vector256.Create(gate.GetLower(), linear.GetLower()), pairs), row + 2 * j);
        TE.StoreVector(Vector256.Shuffle(Vector256.Create(gate.GetUpper(), linear.GetUpper()), pairs), row + 2 * j + Lanes);
    }

    private static void ForEachChunk(long rows, Action<long, long, int> body)
    {
        if (rows == 0) return;
        int chunks = (int)Math.Min(Chunks, rows);
        long per = (rows + chunks - 1) / chunks;
        Parallel.For(0, chunks, i =>
        {
            long first = i * per, end = Math.Min(rows, first + per);
            if (first < end) body(first, end, i);
        });
    }
}
