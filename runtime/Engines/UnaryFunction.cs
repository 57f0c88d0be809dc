using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>The TorchSharp autograd function of a unary operator; see <see cref="GatedFunction{TSelf, TM}"/> for the traps it handles.</summary>
public abstract class UnaryFunction<TSelf, TM> : autograd.SingleTensorFunction<TSelf>
    where TSelf : UnaryFunction<TSelf, TM>, new()
    where TM : struct, IUnaryMaths
{
    /// <summary>The differentiable operator (the generated <c>Apply</c> calls it).</summary>
    public static Tensor Apply(TM maths, Tensor input)
    {
        BackwardFailures.ThrowIfAny();
        UnaryOperator<TM>.Validate(input);
        if (!is_grad_enabled() || !input.requires_grad) return UnaryOperator<TM>.Forward(maths, input);
        using var scope = NewDisposeScope();
        return apply(maths, input).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var maths = (TM)vars[0];
        var input = (Tensor)vars[1];
        ctx.set_materialize_grads(false);
        ctx.save_for_backward([input]);
        ctx.save_data("maths", maths);
        return UnaryOperator<TM>.Forward(maths, input);
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var grads = new List<Tensor> { null!, null! };
        try
        {
            if (grad_output is null || grad_output.IsInvalid) return grads;
            var input = ctx.get_saved_variables()[0];
            grads[1] = UnaryOperator<TM>.Backward((TM)ctx.get_data("maths"), grad_output.contiguous(), input);
        }
        catch (Exception ex)
        {
            BackwardFailures.Record(ex);
        }
        return grads;
    }
}
