using System;
using MoeOpGen.Cuda;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>Runs a unary operator without autograd on the chosen engine (the generated Forward/Backward call it).</summary>
public static class UnaryOperator<TM> where TM : struct, IUnaryMaths
{
    /// <summary>f(input), element-wise.</summary>
    public static Tensor Forward(TM maths, Tensor input, Engine engine = Engine.Auto)
    {
        BackwardFailures.ThrowIfAny();
        Validate(input);
        using var scope = NewDisposeScope();
        Tensor output;
        if (engine == Engine.Composite) output = maths.Forward(input.to(ComputeType(input))).to(input.dtype);
        else
        {
            output = empty_like(input);
            if (input.is_cuda) CudaUnaryLauncher<TM>.Forward(maths, input, output);
            else UnaryCpuKernel<TM>.Forward(maths, input, output);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>grad · f'(input), element-wise.</summary>
    public static Tensor Backward(TM maths, Tensor grad, Tensor input, Engine engine = Engine.Auto)
    {
        BackwardFailures.ThrowIfAny();
        Validate(input);
        ArgumentNullException.ThrowIfNull(grad);
        TensorChecks.RequireSameDevice(grad, input, nameof(grad), nameof(input));
        if (!grad.shape.AsSpan().SequenceEqual(input.shape) || grad.dtype != input.dtype)
            throw new ArgumentException($"grad must have the input's shape [{string.Join(", ", input.shape)}] and dtype {input.dtype}; it has [{string.Join(", ", grad.shape)}] {grad.dtype}.", nameof(grad));
        using var scope = NewDisposeScope();
        Tensor dx;
        if (engine == Engine.Composite)
        {
            using var noGrad = no_grad();
            var t = ComputeType(input);
            maths.ValueAndGradients(input.to(t), grad.to(t), out var d);
            dx = d.to(input.dtype);
        }
        else
        {
            var g = grad.contiguous();
            dx = empty_like(input);
            if (input.is_cuda) CudaUnaryLauncher<TM>.Backward(maths, g, input, dx);
            else UnaryCpuKernel<TM>.Backward(maths, g, input, dx);
        }
        return dx.MoveToOuterDisposeScope();
    }

    internal static void Validate(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TensorChecks.RequireCpuOrCuda(input, nameof(input));
        TensorChecks.RequireFloating(input, nameof(input));
        TensorChecks.RequireContiguous(input, nameof(input));
    }

    private static ScalarType ComputeType(Tensor input) => input.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
