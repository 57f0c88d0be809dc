using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Central differences in fp64: the oracle for autograd gradients (TorchSharp has no gradcheck).</summary>
internal static class FiniteDifference
{
    /// <summary><c>∂loss/∂x</c> by <c>(loss(x + ε·e_i) − loss(x − ε·e_i)) / 2ε</c> for every element of the fp64
    /// tensor <paramref name="x"/>, which is perturbed in place and restored.</summary>
    public static Tensor Gradient(Func<double> loss, Tensor x, double epsilon = 1e-6)
    {
        if (x.dtype != ScalarType.Float64)
            throw new ArgumentException("Finite differences need an fp64 tensor.", nameof(x));
        var gradient = zeros_like(x);
        var flat = x.detach().view(-1);
        var flatGradient = gradient.view(-1);
        for (long i = 0; i < flat.numel(); i++)
        {
            double original;
            using (no_grad()) { original = flat[i].item<double>(); flat[i] = original + epsilon; }
            double plus = loss();
            using (no_grad()) flat[i] = original - epsilon;
            double minus = loss();
            using (no_grad()) { flat[i] = original; flatGradient[i] = (plus - minus) / (2 * epsilon); }
        }
        return gradient;
    }
}
