using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// The fused CPU kernels' vector loops (eight elements at a time through the Vector256 members and VectorMath)
/// against their scalar loops (the float members, the reference): every hidden size from 1 to 33, so every tail
/// length 0…7 occurs with zero to four full vectors before it (the tail is H mod 8 per row), both layouts, every
/// dtype, plain and weights+bias+clamp, with NaN, ±∞, zeros and clamp-boundary values among the inputs.
/// The tail elements run the same scalar code on both paths and must be bit-identical; the vector lanes agree to
/// the dtype's engine tolerance (they differ by VectorMath's few-ulp rounding).
/// </summary>
public class VectorKernelTests
{
    private const long Rows = 3;
    private const float ClampValue = 1f;

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var op in GatedOperators.Keys)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16 })
                foreach (var variant in new[] { "plain", "interleaved", "weighted+bias+clamp", "interleaved+weighted+bias+clamp" })
                    data.Add(op, dtype.ToString(), variant);
        return data;
    }

    /// <summary>Each shipped gated operator as a function of (vectorise, inputs), its scalars bound to non-defaults.</summary>
    private static readonly Dictionary<string, Func<bool, KernelInputs, KernelOutputs>> GatedOperators = new()
    {
        ["SwiGlu"] = (vec, x) => Run(default(SwiGlu.Maths), vec, x),
        ["GeGlu"] = (vec, x) => Run(default(GeGlu.Maths), vec, x),
        ["GeGluErf"] = (vec, x) => Run(default(GeGluErf.Maths), vec, x),
        ["ReGlu"] = (vec, x) => Run(default(ReGlu.Maths), vec, x),
        ["SquaredReGlu"] = (vec, x) => Run(default(SquaredReGlu.Maths), vec, x),
        ["QuickGeGlu"] = (vec, x) => Run(new QuickGeGlu.Maths(1.5f, 0.25f), vec, x),
        ["SiTuGlu"] = (vec, x) => Run(new SiTuGlu.Maths(3f, 2f), vec, x),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void VectorLoopMatchesScalarLoop(string name, string dtypeName, string variant)
    {
        Assert.SkipUnless(Vector256.IsHardwareAccelerated, "Vector256 is not hardware-accelerated here: the kernels run the scalar loop only.");
        var dtype = Enum.Parse<ScalarType>(dtypeName);
        bool interleaved = variant.StartsWith("interleaved", StringComparison.Ordinal), extras = variant.Contains("clamp", StringComparison.Ordinal);
        var tol = Tolerance.For(dtype);
        using var scope = NewDisposeScope();
        for (long hidden = 1; hidden <= 33; hidden++)
        {
            var x = KernelInputs.Create(dtype, hidden, interleaved, extras, seed: (int)hidden);
            var vector = GatedOperators[name](true, x);
            var scalar = GatedOperators[name](false, x);
            string where = $"{name} {dtypeName} {variant} H={hidden}";

            long tailStart = hidden - hidden % 8;
            AssertTailBitIdentical(scalar.Output, vector.Output, tailStart, hidden, $"{where} forward tail");
            TensorAssert.Close(scalar.Output, vector.Output, tol, $"{where} forward");
            TensorAssert.Close(scalar.InputGrad, vector.InputGrad, tol, $"{where} input grad");
            var (gateGrad, linearGrad) = Halves(x, scalar.InputGrad);
            var (gateGradV, linearGradV) = Halves(x, vector.InputGrad);
            AssertTailBitIdentical(gateGrad, gateGradV, tailStart, hidden, $"{where} gate grad tail");
            AssertTailBitIdentical(linearGrad, linearGradV, tailStart, hidden, $"{where} linear grad tail");
            if (extras)
            {
                TensorAssert.Close(scalar.WeightsGrad!, vector.WeightsGrad!, tol, $"{where} weights grad");
                TensorAssert.Close(scalar.BiasGrad!, vector.BiasGrad!, tol, $"{where} bias grad");
            }
        }
    }

    [Theory]
    [InlineData("Silu")]
    [InlineData("QuickGelu")]
    [InlineData("SquaredRelu")]
    public void UnaryVectorLoopMatchesScalarLoop(string name)
    {
        Assert.SkipUnless(Vector256.IsHardwareAccelerated, "Vector256 is not hardware-accelerated here: the kernels run the scalar loop only.");
        using var scope = NewDisposeScope();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16 })
            // 1…33 elements (one chunk, every tail) and past the 16384-element chunk, whose last elements are a tail too.
            foreach (long n in Enumerable.Range(1, 33).Select(i => (long)i).Append(16384 + 13))
            {
                var gen = new torch.Generator((ulong)n);
                var x = (2 * randn(n, generator: gen)).to(dtype);
                var g = randn(n, generator: gen).to(dtype);
                var (outV, gradV) = RunUnary(name, x, g, vectorise: true);
                var (outS, gradS) = RunUnary(name, x, g, vectorise: false);
                TensorAssert.Close(outS, outV, Tolerance.For(dtype), $"{name} {dtype} n={n} forward");
                TensorAssert.Close(gradS, gradV, Tolerance.For(dtype), $"{name} {dtype} n={n} backward");
                long tailStart = n - n % 8;
                if (tailStart < n) TensorAssert.BitEqual(outS[(int)tailStart..], outV[(int)tailStart..], $"{name} {dtype} n={n} forward tail");
            }
    }

    /// <summary>The tests must be able to tell the paths apart: the vector loop really runs (it rounds differently somewhere).</summary>
    [Fact]
    public void TheVectorLoopIsTaken()
    {
        Assert.SkipUnless(Vector256.IsHardwareAccelerated, "Vector256 is not hardware-accelerated here.");
        using var scope = NewDisposeScope();
        var x = KernelInputs.Create(ScalarType.Float32, hidden: 4096, interleaved: false, extras: false, seed: 5);
        var vector = GatedOperators["GeGluErf"](true, x);
        var scalar = GatedOperators["GeGluErf"](false, x);
        Assert.False(vector.Output.bytes.ToArray().AsSpan().SequenceEqual(scalar.Output.bytes.ToArray()), "the vector and scalar loops gave bit-identical results over 12288 erf evaluations");
    }

    private static void AssertTailBitIdentical(Tensor expected, Tensor actual, long tailStart, long hidden, string what)
    {
        if (tailStart == hidden) return;
        TensorAssert.BitEqual(expected[.., (int)tailStart..].contiguous(), actual[.., (int)tailStart..].contiguous(), what);
    }

    /// <summary>The gate and linear parts [rows, H] of a [rows, 2H] tensor in the inputs' layout.</summary>
    private static (Tensor Gate, Tensor Linear) Halves(KernelInputs x, Tensor full)
    {
        if (!x.Interleaved) return (full[.., ..(int)x.Hidden], full[.., (int)x.Hidden..]);
        var pairs = full.view(Rows, x.Hidden, 2);
        return (pairs[.., .., 0], pairs[.., .., 1]);
    }

    private static KernelOutputs Run<TM>(TM maths, bool vectorise, KernelInputs x) where TM : struct, IGatedMaths
    {
        var options = new GatedOptions(x.Clamp, false, x.Interleaved ? GateLayout.Interleaved : GateLayout.Halves);
        var call = GatedCall.Validate(x.Input, x.Weights, x.Bias, options);
        var output = empty(call.OutputShape, x.Input.dtype);
        GatedCpuKernel<TM>.Forward(maths, call, x.Input, x.Weights, x.Bias, output, x8: null, vectorise);
        var inputGrad = empty_like(x.Input);
        var weightsGrad = x.Weights is null ? null : empty(Rows, ScalarType.Float32);
        var biasGrad = x.Bias is null ? null : empty(2 * x.Hidden, ScalarType.Float32);
        GatedCpuKernel<TM>.Backward(maths, call, x.Input.dtype, x.Grad, x.Input, x8: null, x.Weights, x.Bias, inputGrad, weightsGrad, biasGrad, vectorise);
        return new KernelOutputs(output, inputGrad, weightsGrad, biasGrad);
    }

    private static (Tensor Output, Tensor InputGrad) RunUnary(string name, Tensor x, Tensor g, bool vectorise) => name switch
    {
        "Silu" => RunUnary(default(Silu.Maths), x, g, vectorise),
        "QuickGelu" => RunUnary(new QuickGelu.Maths(1.5f), x, g, vectorise),
        _ => RunUnary(default(SquaredRelu.Maths), x, g, vectorise),
    };

    private static (Tensor Output, Tensor InputGrad) RunUnary<TM>(TM maths, Tensor x, Tensor g, bool vectorise) where TM : struct, IUnaryMaths
    {
        var output = empty_like(x);
        var inputGrad = empty_like(x);
        UnaryCpuKernel<TM>.Forward(maths, x, output, vectorise);
        UnaryCpuKernel<TM>.Backward(maths, g, x, inputGrad, vectorise);
        return (output, inputGrad);
    }

    private sealed record KernelOutputs(Tensor Output, Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad);

    /// <summary>Inputs of one kernel call: N(0, 1.5²) with special values planted in the first row.</summary>
    private sealed record KernelInputs(Tensor Input, Tensor Grad, Tensor? Weights, Tensor? Bias, double? Clamp, long Hidden, bool Interleaved)
    {
        private static readonly float[] Specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, ClampValue, -ClampValue, 90f, -90f, 1e-30f];

        public static KernelInputs Create(ScalarType dtype, long hidden, bool interleaved, bool extras, int seed)
        {
            var gen = new torch.Generator((ulong)seed);
            var values = (1.5 * randn([Rows, 2 * hidden], generator: gen)).data<float>().ToArray();
            // Row 0 gets the special values, spread over vector lanes and the tail alike.
            for (int i = 0; i < Math.Min(values.Length / Rows, Specials.Length * 3); i += 3) values[i] = Specials[i / 3 % Specials.Length];
            var input = tensor(values, [Rows, 2 * hidden]).to(dtype);
            var grad = randn([Rows, hidden], generator: gen).to(dtype);
            var weights = extras ? rand([Rows, 1], generator: gen) : null;
            var bias = extras ? (0.1 * randn([2 * hidden], generator: gen)).to(dtype) : null;
            return new KernelInputs(input, grad, weights, bias, extras ? ClampValue : null, hidden, interleaved);
        }
    }
}
