using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// <c>bench ops</c>: every gated operator's forward, backward (with the weights gradient) and forward+backward
/// through its autograd wrapper, per variant, shape and dtype. Forward+backward is timed with a non-leaf input
/// (a view of a leaf, as in a real layer where the input comes from the expert's first matmul; the view adds no
/// kernel) — the main figure — and with the leaf itself, where libtorch's AccumulateGrad clones the input gradient
/// because a managed wrapper still references it.
/// </summary>
internal sealed class OpsBench(BenchDevice device, RowRunner rows, Action save)
{
    public void Run(IReadOnlyList<ModelShape> shapes, IReadOnlyList<BenchDtype> dtypes, IReadOnlyList<GatedOperator> ops)
    {
        foreach (var dtype in dtypes)
        {
            foreach (var shape in shapes)
            {
                using (var scope = NewDisposeScope()) RunBlock(shape, dtype, ops);
                StepTimer.CollectGarbage();
                save();   // after each block: a run cut short keeps what it measured
            }
        }
    }

    /// <summary>Compiles (or loads from the disk cache) the kernels of the run's operators and dtypes, in parallel,
    /// through <see cref="CudaKernels.Precompile(IEnumerable{CudaSource}, int, Func{string, bool})"/>: the same
    /// per-kernel compile units launches use, so no compile lands in a timed step. Every variant of those dtypes
    /// (a few more than the run launches) rather than a copy of the launchers' naming rules. Returns the seconds.</summary>
    public static double Precompile(IReadOnlyList<GatedOperator> ops, IReadOnlyList<BenchDtype> dtypes)
    {
        var suffixes = dtypes.Select(d => d.Type == ScalarType.BFloat16 ? "_bf16" : "_f32").ToArray();
        var started = System.Diagnostics.Stopwatch.StartNew();
        CudaKernels.Precompile(ops.Select(op => op.Module).Distinct(), 0,
            name => suffixes.Any(sfx => name.EndsWith(sfx, StringComparison.Ordinal) || name.Contains(sfx + "_", StringComparison.Ordinal)));
        return started.Elapsed.TotalSeconds;
    }

    private void RunBlock(ModelShape shape, BenchDtype dtype, IReadOnlyList<GatedOperator> ops)
    {
        long r = shape.Rows, h = shape.Hidden;
        int e = dtype.Size;
        var dev = device.Device;
        manual_seed(0);
        var y = randn([r, 2 * h], dtype.Type, dev);
        var g = randn([r, h], dtype.Type, dev);
        var w = rand([r, 1], ScalarType.Float32, dev);
        var bias = randn([2 * h], dtype.Type, dev).mul_(0.1);
        var yLeaf = y.detach().clone().requires_grad_(true);
        var wLeaf = w.detach().clone().requires_grad_(true);
        var bLeaf = bias.detach().clone().requires_grad_(true);
        void ClearGrads()
        {
            // Gradients accumulate into .grad; a fresh step must find none, or AccumulateGrad adds in place.
            yLeaf.grad = null;
            wLeaf.grad = null;
            bLeaf.grad = null;
        }

        long[] inShape = [r, 2 * h];
        foreach (var op in ops)
        {
            foreach (var v in GatedVariant.ExplicitVariants)
            {
                var wv = v.Weights ? w : null;
                var bv = v.Bias ? bias : null;
                rows.Measure(Row(op, shape, dtype, inShape, "fwd", v, ByteModel.GatedForward(r, h, e, v)),
                        () => op.Forward(y, wv, bv, v.ClampOrNull), reset: null);
                rows.Measure(Row(op, shape, dtype, inShape, "bwd", v, ByteModel.GatedBackward(r, h, e, v)),
                        () => op.Backward(g, y, wv, bv, v.ClampOrNull), reset: null);
            }
            foreach (var v in GatedVariant.AutogradVariants)
            {
                var wv = v.Weights ? wLeaf : null;
                var bv = v.Bias ? bLeaf : null;
                foreach (bool leafInput in new[] { false, true })
                {
                    var row = Row(op, shape, dtype, inShape, leafInput ? "fwd+bwd leaf" : "fwd+bwd", v, ByteModel.GatedForwardBackward(r, h, e, v));
                    rows.Measure(row, () =>
                    {
                        var x = leafInput ? yLeaf : yLeaf.view(yLeaf.shape);
                        var output = op.Apply(x, wv, bv, v.ClampOrNull, v.Fp8);
                        output.backward([g]);
                    }, reset: ClearGrads);
                }
            }
        }
        ClearGrads();
    }

    private static BenchRow Row(GatedOperator op, ModelShape shape, BenchDtype dtype, long[] inShape, string phase, GatedVariant v, long bytes) => new()
    {
        Name = $"{op.Name} {v.Key}",
        Impl = "moeopgen",
        Model = shape.Key,
        Shape = inShape,
        Dtype = dtype.Key,
        Op = phase,
        Variant = v.Key,
        Case = $"{op.Family} {v.Key} {phase}",
        Bytes = bytes,
    };
}
