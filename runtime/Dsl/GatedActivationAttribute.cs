using System;

namespace MoeOpGen;

/// <summary>
/// Declares a gated activation: the class's <c>static float Forward(float gate, float linear, [Scalar] …)</c>
/// states the maths, and the MoeOpGen generator emits its backward, fused CPU and CUDA kernels and a
/// differentiable TorchSharp entry point <c>Apply</c>. The input <c>[..., 2H]</c> is split on its last
/// dimension into gate and linear halves (<see cref="GateLayout"/>); the output is <c>[..., H]</c>.
/// </summary>
/// <remarks>The class must be <c>static partial</c>. See docs/dsl.md for the vocabulary.</remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class GatedActivationAttribute : Attribute
{
}
