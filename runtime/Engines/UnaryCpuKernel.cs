using System;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using MoeOpGen.Cuda.Interop;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// The fused CPU kernel of every unary operator: one pass, chunks in parallel, maths inlined. fp32/fp16/bf16 run
/// eight elements at a time through the maths' vector members and the chunk's last few through the scalar ones
/// (see <see cref="GatedCpuKernel{TM}"/>); fp64 runs the scalar members.
/// </summary>
internal static unsafe class UnaryCpuKernel<TM> where TM : struct, IUnaryMaths
{
    /// <summary>Elements per parallel chunk (a multiple of the vector width).</summary>
    private const long Chunk = 1 << 14;

    /// <summary>Fills <paramref name="output"/>; <paramref name="vectorise"/> false runs the scalar loop only.</summary>
    public static void Forward(TM maths, Tensor input, Tensor output, bool vectorise = true)
    {
        IntPtr x = LibTorchSharpNative.DataPointer(input), y = LibTorchSharpNative.DataPointer(output);
        long n = input.numel();
        bool vectors = vectorise && Vector256.IsHardwareAccelerated;
        switch (input.dtype)
        {
            case ScalarType.Float32 when vectors: VectorMap<float, Fp32Element>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float16 when vectors: VectorMap<Half, Fp16Element>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.BFloat16 when vectors: VectorMap<ushort, Bf16Element>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float32: Map<float, float, Fp32Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float64: Map<double, double, Fp64Element, Fp64Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float16: Map<Half, float, Fp16Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            default: Map<ushort, float, Bf16Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
        }
    }

    /// <summary>Fills <paramref name="inputGrad"/>; <paramref name="vectorise"/> false runs the scalar loop only.</summary>
    public static void Backward(TM maths, Tensor grad, Tensor input, Tensor inputGrad, bool vectorise = true)
    {
        IntPtr x = LibTorchSharpNative.DataPointer(input), g = LibTorchSharpNative.DataPointer(grad), dx = LibTorchSharpNative.DataPointer(inputGrad);
        long n = input.numel();
        bool vectors = vectorise && Vector256.IsHardwareAccelerated;
        switch (input.dtype)
        {
            case ScalarType.Float32 when vectors: VectorMap<float, Fp32Element>(maths, x, g, dx, n); break;
            case ScalarType.Float16 when vectors: VectorMap<Half, Fp16Element>(maths, x, g, dx, n); break;
            case ScalarType.BFloat16 when vectors: VectorMap<ushort, Bf16Element>(maths, x, g, dx, n); break;
            case ScalarType.Float32: Map<float, float, Fp32Element, Fp32Arithmetic>(maths, x, g, dx, n); break;
            case ScalarType.Float64: Map<double, double, Fp64Element, Fp64Arithmetic>(maths, x, g, dx, n); break;
            case ScalarType.Float16: Map<Half, float, Fp16Element, Fp32Arithmetic>(maths, x, g, dx, n); break;
            default: Map<ushort, float, Bf16Element, Fp32Arithmetic>(maths, x, g, dx, n); break;
        }
    }

    /// <summary>out = f(x) when <paramref name="g"/> is null, else out = g · f'(x).</summary>
    private static void Map<TS, TR, TE, TA>(TM maths, IntPtr x, IntPtr g, IntPtr result, long n)
        where TS : unmanaged where TR : unmanaged, IFloatingPointIeee754<TR>
        where TE : struct, IElement<TS, TR> where TA : struct, IArithmetic<TR>
    {
        long chunks = (n + Chunk - 1) / Chunk;
        Parallel.For(0L, chunks, i =>
        {
            TS* xs = (TS*)x, gs = (TS*)g, rs = (TS*)result;
            long end = Math.Min(n, (i + 1) * Chunk);
            for (long k = i * Chunk; k < end; k++)
            {
                if (gs == null) rs[k] = TE.Store(TA.Forward1(maths, TE.Load(xs[k])));
                else { TA.ValueAndGradient1(maths, TE.Load(xs[k]), TE.Load(gs[k]), out var d); rs[k] = TE.Store(d); }
            }
        });
    }

    /// <summary><see cref="Map"/> eight elements at a time, each chunk's last n mod 8 through the scalar members.</summary>
    private static void VectorMap<TS, TE>(TM maths, IntPtr x, IntPtr g, IntPtr result, long n)
        where TS : unmanaged where TE : struct, IVectorElement<TS>
    {
        long chunks = (n + Chunk - 1) / Chunk;
        Parallel.For(0L, chunks, i =>
        {
            TS* xs = (TS*)x, gs = (TS*)g, rs = (TS*)result;
            long end = Math.Min(n, (i + 1) * Chunk), k = i * Chunk;
            for (; k + Vector256<float>.Count <= end; k += Vector256<float>.Count)
            {
                var xv = TE.LoadVector(xs + k);
                if (gs == null) TE.StoreVector(maths.Forward(xv), rs + k);
                else { maths.ValueAndGradients(xv, TE.LoadVector(gs + k), out var d); TE.StoreVector(d, rs + k); }
            }
            for (; k < end; k++)
            {
                if (gs == null) rs[k] = TE.Store(maths.Forward(TE.Load(xs[k])));
                else { maths.ValueAndGradients(TE.Load(xs[k]), TE.Load(gs[k]), out var d); rs[k] = TE.Store(d); }
            }
        });
    }
}
