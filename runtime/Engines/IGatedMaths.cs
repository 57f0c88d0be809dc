using System.Runtime.Intrinsics;
using TorchSharp;

namespace MoeOpGen.Engines;

/// <summary>
/// An operator's maths with its scalars bound, implemented by the generated <c>Maths</c> struct. The engines are
/// generic over it, so the JIT specialises and inlines the maths into the fused CPU loops.
/// </summary>
public interface IOperatorMaths
{
    /// <summary>The operator's class name.</summary>
    string Name { get; }

    /// <summary>The operator's CUDA module.</summary>
    Cuda.CudaSource Cuda { get; }

    /// <summary>The prefix of its kernels' names, e.g. <c>swiglu</c>.</summary>
    string KernelPrefix { get; }

    /// <summary>The scalar arguments in Forward's order (the kernels' <c>mog_scalars</c>).</summary>
    float[] ScalarValues { get; }
}

/// <summary>The maths of a gated activation f(gate, linear).</summary>
public interface IGatedMaths : IOperatorMaths
{
    /// <summary>f(gate, linear) in fp32.</summary>
    float Forward(float gate, float linear);

    /// <summary>f and grad · ∂f/∂gate, grad · ∂f/∂linear in fp32.</summary>
    float ValueAndGradients(float gate, float linear, float grad, out float dGate, out float dLinear);

    /// <summary>f on eight fp32 lanes (the fused CPU kernel's vector loop; <see cref="VectorMath"/> for the functions).</summary>
    Vector256<float> Forward(Vector256<float> gate, Vector256<float> linear);

    /// <summary>f and its gradients on eight fp32 lanes.</summary>
    Vector256<float> ValueAndGradients(Vector256<float> gate, Vector256<float> linear, Vector256<float> grad, out Vector256<float> dGate, out Vector256<float> dLinear);

    /// <summary>f in fp64.</summary>
    double ForwardF64(double gate, double linear);

    /// <summary>f and its gradients in fp64.</summary>
    double ValueAndGradientsF64(double gate, double linear, double grad, out double dGate, out double dLinear);

    /// <summary>f as TorchSharp operations (the composite engine).</summary>
    torch.Tensor Forward(torch.Tensor gate, torch.Tensor linear);

    /// <summary>f and its gradients as TorchSharp operations.</summary>
    torch.Tensor ValueAndGradients(torch.Tensor gate, torch.Tensor linear, torch.Tensor grad, out torch.Tensor dGate, out torch.Tensor dLinear);
}

/// <summary>The maths of a unary activation f(x).</summary>
public interface IUnaryMaths : IOperatorMaths
{
    /// <summary>f(x) in fp32.</summary>
    float Forward(float x);

    /// <summary>f and grad · f'(x) in fp32.</summary>
    float ValueAndGradients(float x, float grad, out float dX);

    /// <summary>f on eight fp32 lanes.</summary>
    Vector256<float> Forward(Vector256<float> x);

    /// <summary>f and grad · f'(x) on eight fp32 lanes.</summary>
    Vector256<float> ValueAndGradients(Vector256<float> x, Vector256<float> grad, out Vector256<float> dX);

    /// <summary>f in fp64.</summary>
    double ForwardF64(double x);

    /// <summary>f and grad · f'(x) in fp64.</summary>
    double ValueAndGradientsF64(double x, double grad, out double dX);

    /// <summary>f as TorchSharp operations.</summary>
    torch.Tensor Forward(torch.Tensor x);

    /// <summary>f and grad · f'(x) as TorchSharp operations.</summary>
    torch.Tensor ValueAndGradients(torch.Tensor x, torch.Tensor grad, out torch.Tensor dX);
}
