using System;

namespace MoeOpGen;

/// <summary>
/// Declares a unary element-wise activation: the class's <c>static float Forward(float x, [Scalar] …)</c>
/// states the maths; the generator emits its backward, kernels and a differentiable <c>Apply</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class ActivationAttribute : Attribute
{
}
