using System;
using System.Numerics;
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
internal static unsafe class GatedCpuKernel<TM> where TM : struct, IGatedMaths
{
    /// <summary>Rows are cut into at most this many chunks: fixed, so the bias-gradient sum order is too.</summary>
    private const int Chunks = 64;

    /// <summary>The pointers and sizes of one call (pointers are null for absent tensors).</summary>
    private struct Buffers
    {
        public IntPtr X, X8, W, Bias, Out, Grad, Dx, Dw;
        public long Rows, Hidden;
        public bool Interleaved, HasClamp;
        public double Clamp;
    }

    public static void Forward(TM maths, GatedCall call, Tensor input, Tensor? weights, Tensor? bias, Tensor output, Tensor? x8)
    {
        var b = Pointers(call, input, weights, bias, x8);
        var buffers = b with { Out = LibTorchSharpNative.DataPointer(output) };
        switch (input.dtype)
        {
            case ScalarType.Float32: ForwardRows<float, float, Fp32Element, Fp32Arithmetic>(maths, buffers); break;
            case ScalarType.Float64: ForwardRows<double, double, Fp64Element, Fp64Arithmetic>(maths, buffers); break;
            case ScalarType.Float16: ForwardRows<Half, float, Fp16Element, Fp32Arithmetic>(maths, buffers); break;
            default: ForwardRows<ushort, float, Bf16Element, Fp32Arithmetic>(maths, buffers); break;
        }
    }

    /// <summary>Fills <paramref name="inputGrad"/>, and <paramref name="weightsGrad"/> (fp32/fp64 [rows]) and <paramref name="biasGrad"/> (fp32/fp64 [2H], logical order: gate then linear) when given.</summary>
    public static void Backward(TM maths, GatedCall call, ScalarType dtype, Tensor grad, Tensor? input, Tensor? x8, Tensor? weights, Tensor? bias,
                                Tensor inputGrad, Tensor? weightsGrad, Tensor? biasGrad)
    {
        var b = Pointers(call, input, weights, bias, x8) with
        {
            Grad = LibTorchSharpNative.DataPointer(grad),
            Dx = LibTorchSharpNative.DataPointer(inputGrad),
            Dw = weightsGrad is null ? IntPtr.Zero : LibTorchSharpNative.DataPointer(weightsGrad),
        };
        switch (dtype)
        {
            case ScalarType.Float32: BackwardRows<float, float, Fp32Element, Fp32Arithmetic>(maths, b, biasGrad); break;
            case ScalarType.Float64: BackwardRows<double, double, Fp64Element, Fp64Arithmetic>(maths, b, biasGrad); break;
            case ScalarType.Float16: BackwardRows<Half, float, Fp16Element, Fp32Arithmetic>(maths, b, biasGrad); break;
            default: BackwardRows<ushort, float, Bf16Element, Fp32Arithmetic>(maths, b, biasGrad); break;
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

    private static void ForwardRows<TS, TR, TE, TA>(TM maths, Buffers b)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        ForEachChunk(b.Rows, (first, end, _) =>
        {
            long h = b.Hidden;
            TR c = TR.CreateTruncating(b.Clamp);
            for (long r = first; r < end; r++)
            {
                TS* x = (TS*)b.X + r * 2 * h;
                TS* y = (TS*)b.Out + r * h;
                byte* x8 = b.X8 == IntPtr.Zero ? null : (byte*)b.X8 + r * 2 * h;
                TR w = b.W == IntPtr.Zero ? TR.One : ((TR*)b.W)[r];
                for (long j = 0; j < h; j++)
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
        });
    }

    private static void BackwardRows<TS, TR, TE, TA>(TM maths, Buffers b, Tensor? biasGrad)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        long h = b.Hidden;
        bool hasBias = biasGrad is not null;
        // One partial bias-gradient row per chunk, summed in chunk order below: deterministic.
        var partials = hasBias ? new TR[Chunks][] : null;
        ForEachChunk(b.Rows, (first, end, chunk) =>
        {
            TR c = TR.CreateTruncating(b.Clamp);
            var dbias = hasBias ? (partials![chunk] = new TR[2 * h]) : null;
            for (long r = first; r < end; r++)
            {
                TS* g = (TS*)b.Grad + r * h;
                TS* dx = (TS*)b.Dx + r * 2 * h;
                TR w = b.W == IntPtr.Zero ? TR.One : ((TR*)b.W)[r];
                TR dw = TR.Zero;
                for (long j = 0; j < h; j++)
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
                    if (dbias is not null) { dbias[j] += dA; dbias[h + j] += dL; }
                    dx[ia] = TE.Store(passA ? dA : TR.Zero);
                    dx[ib] = TE.Store(passL ? dL : TR.Zero);
                }
                if (b.Dw != IntPtr.Zero) ((TR*)b.Dw)[r] = dw;
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
