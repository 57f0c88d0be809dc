using System;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// Runs a gated operator without autograd: validates once, then dispatches to the CUDA kernels (CUDA tensors),
/// the fused CPU kernel, or the composite. The generated <c>Forward</c>/<c>Backward</c> call it.
/// </summary>
public static class GatedOperator<TM> where TM : struct, IGatedMaths
{
    /// <summary>The operator's output <c>[..., H]</c>.</summary>
    public static Tensor Forward(TM maths, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options, Engine engine = Engine.Auto)
    {
        BackwardFailures.ThrowIfAny();
        if (engine == Engine.Composite) return GatedComposite<TM>.Forward(maths, input, weights, bias, options);
        var call = GatedCall.Validate(input, weights, bias, options);
        return Run(maths, call, input, weights, bias, fp8Store: false).Output;
    }

    /// <summary>The gradients of input, weights and bias for the output gradient <paramref name="grad"/>.</summary>
    public static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) Backward(TM maths, Tensor grad, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options, Engine engine = Engine.Auto)
    {
        BackwardFailures.ThrowIfAny();
        var call = GatedCall.Validate(input, weights, bias, options);
        ValidateGrad(grad, input, call);
        if (engine == Engine.Composite) return GatedComposite<TM>.Backward(maths, grad, input, weights, bias, options);
        return RunBackward(maths, call, input.dtype, grad, input, x8: null, weights, bias);
    }

    internal static void ValidateGrad(Tensor grad, Tensor input, GatedCall call)
    {
        ArgumentNullException.ThrowIfNull(grad);
        TensorChecks.RequireSameDevice(grad, input, nameof(grad), nameof(input));
        if (!grad.shape.AsSpan().SequenceEqual(call.OutputShape))
            throw new ArgumentException($"grad must have the output's shape [{string.Join(", ", call.OutputShape)}]; it has [{string.Join(", ", grad.shape)}].", nameof(grad));
        if (grad.dtype != input.dtype)
            throw new ArgumentException($"grad must have the input's dtype {input.dtype}; it has {grad.dtype}.", nameof(grad));
    }

    /// <summary>Forward on the fused engine of the input's device; with <paramref name="fp8Store"/>, also the FP8 copy for backward.</summary>
    internal static (Tensor Output, Tensor? Fp8Input) Run(TM maths, GatedCall call, Tensor input, Tensor? weights, Tensor? bias, bool fp8Store)
    {
        using var scope = NewDisposeScope();
        var output = empty(call.OutputShape, input.dtype, input.device);
        var x8 = fp8Store ? empty(input.shape, Fp8E4M3.ScalarType, input.device) : null;
        var w = weights?.to(WeightType(input)).contiguous();
        if (input.is_cuda) CudaGatedLauncher<TM>.Forward(maths, call, input, w, bias, output, x8);
        else GatedCpuKernel<TM>.Forward(maths, call, input, w, bias, output, x8);
        output.MoveToOuterDisposeScope();
        x8?.MoveToOuterDisposeScope();
        return (output, x8);
    }

    /// <summary>Backward on the fused engine of the device, from the input or its FP8 copy.</summary>
    internal static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) RunBackward(TM maths, GatedCall call, ScalarType dtype,
        Tensor grad, Tensor? input, Tensor? x8, Tensor? weights, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var device = grad.device;
        var shape = (long[])call.OutputShape.Clone();
        shape[^1] = 2 * call.Hidden;
        var g = grad.contiguous();
        var dx = empty(shape, dtype, device);
        var reduceType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var w = weights?.to(WeightType(dtype)).contiguous();
        var dw = weights is null ? null : empty([call.Rows], reduceType, device);
        var dbiasLogical = bias is null ? null : empty([2 * call.Hidden], reduceType, device);
        Tensor? dbias;
        if (grad.is_cuda)
        {
            dbias = CudaGatedLauncher<TM>.Backward(maths, call, dtype, g, input, x8, w, bias, dx, dw);
        }
        else
        {
            GatedCpuKernel<TM>.Backward(maths, call, dtype, g, input, x8, w, bias, dx, dw, dbiasLogical);
            dbias = dbiasLogical is null ? null : ToLayout(call, dbiasLogical).to(dtype);
        }
        var dWeights = dw?.reshape(weights!.shape).to(weights.dtype);
        dx.MoveToOuterDisposeScope();
        dWeights?.MoveToOuterDisposeScope();
        dbias?.MoveToOuterDisposeScope();
        return (dx, dWeights, dbias);
    }

    /// <summary>The CPU kernel sums the bias gradient as [gate…, linear…]; the bias itself is in the input's layout.</summary>
    private static Tensor ToLayout(GatedCall call, Tensor logical)
        => call.Interleaved ? logical.view(2, call.Hidden).t().contiguous().view(-1) : logical;

    private static ScalarType WeightType(Tensor input) => WeightType(input.dtype);

    private static ScalarType WeightType(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
