using System;
using System.Numerics;
using System.Threading.Tasks;
using MoeOpGen.Cuda.Interop;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>The fused CPU kernel of every unary operator: one pass, chunks in parallel, maths inlined.</summary>
internal static unsafe class UnaryCpuKernel<TM> where TM : struct, IUnaryMaths
{
    private const long Chunk = 1 << 14;

    public static void Forward(TM maths, Tensor input, Tensor output)
    {
        IntPtr x = LibTorchSharpNative.DataPointer(input), y = LibTorchSharpNative.DataPointer(output);
        long n = input.numel();
        switch (input.dtype)
        {
            case ScalarType.Float32: Map<float, float, Fp32Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float64: Map<double, double, Fp64Element, Fp64Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            case ScalarType.Float16: Map<Half, float, Fp16Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
            default: Map<ushort, float, Bf16Element, Fp32Arithmetic>(maths, x, IntPtr.Zero, y, n); break;
        }
    }

    public static void Backward(TM maths, Tensor grad, Tensor input, Tensor inputGrad)
    {
        IntPtr x = LibTorchSharpNative.DataPointer(input), g = LibTorchSharpNative.DataPointer(grad), dx = LibTorchSharpNative.DataPointer(inputGrad);
        long n = input.numel();
        switch (input.dtype)
        {
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
}
