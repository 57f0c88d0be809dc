using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// The TorchSharp autograd function of a gated operator (each operator's generated <c>Function</c> derives from
/// it). Forward runs the fused kernel and saves only the input — or its FP8 copy — plus the weights and bias
/// references; backward runs the fused backward kernel.
/// </summary>
/// <remarks>
/// TorchSharp traps handled here (torchsharp-notes §1, §5): <c>apply</c> runs in its own dispose scope with
/// <c>set_materialize_grads(false)</c> so outputs are not duplicated — TorchSharp's <c>Function.apply</c> allocates an
/// <c>empty_like</c> of every output to materialise missing gradients as zeros, which the scope disposes at once and
/// which is never read without materialisation (its block stays reserved in libtorch's caching allocator until reused:
/// <c>bench memory</c>, docs/benchmarks.md); an exception inside backward would kill
/// the process, so it is caught, recorded in <see cref="BackwardFailures"/> and rethrown later; the function is
/// a singleton, so per-call state lives in the context.
/// </remarks>
public abstract class GatedFunction<TSelf, TM> : autograd.SingleTensorFunction<TSelf>
    where TSelf : GatedFunction<TSelf, TM>, new()
    where TM : struct, IGatedMaths
{
    /// <summary>The differentiable operator (the generated <c>Apply</c> calls it).</summary>
    public static Tensor Apply(TM maths, Tensor input, Tensor? weights, Tensor? bias, GatedOptions options)
    {
        BackwardFailures.ThrowIfAny();
        var call = GatedCall.Validate(input, weights, bias, options);
        bool recording = is_grad_enabled() && (input.requires_grad || weights?.requires_grad == true || bias?.requires_grad == true);
        if (!recording) return GatedOperator<TM>.Run(maths, call, input, weights, bias, fp8Store: false).Output;

        using var scope = NewDisposeScope();
        var output = apply(maths, call, input, weights!, bias!, options);
        return output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var maths = (TM)vars[0];
        var call = (GatedCall)vars[1];
        var input = (Tensor)vars[2];
        var weights = vars[3] as Tensor;
        var bias = vars[4] as Tensor;
        var options = (GatedOptions)vars[5];
        ctx.set_materialize_grads(false);

        var (output, x8) = GatedOperator<TM>.Run(maths, call, input, weights, bias, options.Fp8InputStore);
        var saved = new List<Tensor> { x8 ?? input };
        if (weights is not null) saved.Add(weights);
        if (bias is not null) saved.Add(bias);
        ctx.save_for_backward(saved);
        ctx.save_data("state", new SavedState(maths, call, input.dtype, x8 is not null, weights is not null, bias is not null));
        return output;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        // One entry per forward argument: maths, call, input, weights, bias, options.
        var grads = new List<Tensor> { null!, null!, null!, null!, null!, null! };
        try
        {
            if (grad_output is null || grad_output.IsInvalid) return grads;
            var state = (SavedState)ctx.get_data("state");
            var saved = ctx.get_saved_variables();
            int next = 1;
            var weights = state.HasWeights ? saved[next++] : null;
            var bias = state.HasBias ? saved[next] : null;
            var (dInput, dWeights, dBias) = GatedOperator<TM>.RunBackward(state.Maths, state.Call, state.InputType, grad_output,
                state.Fp8 ? null : saved[0], state.Fp8 ? saved[0] : null, weights, bias);
            grads[2] = dInput;
            grads[3] = dWeights!;
            grads[4] = dBias!;
        }
        catch (Exception ex)
        {
            BackwardFailures.Record(ex);
        }
        return grads;
    }

    private sealed record SavedState(TM Maths, GatedCall Call, ScalarType InputType, bool Fp8, bool HasWeights, bool HasBias);
}
