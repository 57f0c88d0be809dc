using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// The composite engine: the operator as TorchSharp tensor operations in fp32 (fp64 for fp64 input), with the
/// variants (clamp, bias, weights, layout) spelled out. Differentiable when autograd is on, so the tests can
/// compare the fused kernels' gradients with TorchSharp's autograd of this composite.
/// </summary>
public static class GatedComposite<TM> where TM : struct, IGatedMaths
{
    /// <summary>The forward of the composite engine (records an autograd graph when gradients are enabled).</summary>
    public static Tensor Forward(TM maths, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options)
    {
        var call = GatedCall.Validate(input, weights, bias, options);
        using var scope = NewDisposeScope();
        var (gate, linear) = Inputs(call, input, weights, bias, options, out _, out _);
        var value = maths.Forward(gate, linear);
        if (weights is not null) value = value * weights.to(ComputeType(input)).reshape(Leading(call, 1));
        return value.to(input.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The explicit backward of the composite engine: input, weights and bias gradients.</summary>
    public static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) Backward(TM maths, Tensor grad, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options)
    {
        var call = GatedCall.Validate(input, weights, bias, options);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (gate, linear) = Inputs(call, input, weights, bias, options, out var passGate, out var passLinear);
        var g = grad.to(ComputeType(input)).reshape(call.OutputShape);
        var w = weights?.to(ComputeType(input)).reshape(Leading(call, 1));
        var value = maths.ValueAndGradients(gate, linear, w is null ? g : g * w, out var dGate, out var dLinear);
        Tensor? dBias = bias is null ? null : Combine(call, dGate, dLinear).reshape(-1, 2 * call.Hidden).sum(dim: 0L).to(bias.dtype); // a plain sum(0) binds to sum(ScalarType) and sums everything
        var dInput = Combine(call, passGate is null ? dGate : dGate * passGate, passLinear is null ? dLinear : dLinear * passLinear).to(input.dtype);
        Tensor? dWeights = weights is null ? null : (value * g).sum(-1, keepdim: true).reshape(weights.shape).to(weights.dtype);
        dInput.MoveToOuterDisposeScope();
        dWeights?.MoveToOuterDisposeScope();
        dBias?.MoveToOuterDisposeScope();
        return (dInput, dWeights, dBias);
    }

    private static ScalarType ComputeType(Tensor input) => input.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    private static long[] Leading(GatedCall call, long last)
    {
        var shape = (long[])call.OutputShape.Clone();
        shape[^1] = last;
        return shape;
    }

    /// <summary>Gate and linear after the clamp and the bias, and where the clamp lets the gradient pass (1/0).</summary>
    private static (Tensor Gate, Tensor Linear) Inputs(GatedCall call, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options,
                                                        out Tensor? passGate, out Tensor? passLinear)
    {
        var x = input.to(ComputeType(input));
        var (gate, linear) = Split(call, x);
        passGate = passLinear = null;
        if (call.Clamp is float c)
        {
            passGate = gate.le(c).to(x.dtype);
            passLinear = linear.le(c).logical_and(linear.ge(-c)).to(x.dtype);
            gate = CompositeMath.Where(gate.gt(c), c, gate);
            linear = CompositeMath.Where(linear.gt(c), c, CompositeMath.Where(linear.lt(-c), -c, linear));
        }
        if (bias is not null)
        {
            var (bg, bl) = Split(call, bias.to(x.dtype));
            gate = gate + bg;
            linear = linear + bl;
        }
        return (gate, linear);
    }

    private static (Tensor Gate, Tensor Linear) Split(GatedCall call, Tensor x)
    {
        if (!call.Interleaved) return (x.narrow(-1, 0, call.Hidden), x.narrow(-1, call.Hidden, call.Hidden));
        var pairs = x.unflatten(x.dim() - 1, [call.Hidden, 2]); // TorchSharp 0.107's unflatten rejects dim -1
        return (pairs.select(-1, 0), pairs.select(-1, 1));
    }

    private static Tensor Combine(GatedCall call, Tensor gate, Tensor linear)
        => call.Interleaved ? stack([gate, linear], -1).flatten(-2) : cat([gate, linear], -1);
}
