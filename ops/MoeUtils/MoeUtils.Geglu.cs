using static TorchSharp.torch;

namespace MoeOpGen.Ops;

// The reference's tanh-GEGLU family (moe_utils-semantics.md §1.9, mirroring §1.3–1.5), on the generated GeGlu operator.
public static partial class MoeUtils
{
    /// <summary>Reference <c>geglu(y)</c>: <c>gelu_tanh(a) · b</c>, <c>[N, 2H]</c> → <c>[N, H]</c>. Differentiable.</summary>
    /// <remarks>Calls <see cref="GeGlu.Apply"/>.</remarks>
    public static Tensor Geglu(Tensor y) => Named(nameof(y), null, () => GeGlu.Apply(Contiguous(y, nameof(y))));

    /// <summary>Reference <c>weighted_geglu(y, weights)</c>: <c>gelu_tanh(a) · b · w</c> in y's dtype, <c>w [N, 1]</c>. Differentiable.</summary>
    /// <remarks>Calls <see cref="GeGlu.Apply"/> with the weights; fp32 arithmetic, one rounding to y's dtype.</remarks>
    public static Tensor WeightedGeglu(Tensor y, Tensor weights) => Named(nameof(y), null, () => GeGlu.Apply(Contiguous(y, nameof(y)), weights));

    /// <summary>Reference <c>geglu_back(g, y)</c>: the input gradient <c>cat(da, db)</c>, <c>[N, 2H]</c>, in y's dtype.</summary>
    /// <remarks>Calls <see cref="GeGlu.Backward(Tensor, Tensor, Tensor, Tensor, double?, GateLayout, Engines.Engine)"/>; <paramref name="g"/> must have y's dtype.</remarks>
    public static Tensor GegluBack(Tensor g, Tensor y) => Named(nameof(y), nameof(g), () => GeGlu.Backward(g, Contiguous(y, nameof(y))).InputGrad);

    /// <summary>
    /// Reference <c>weighted_geglu_back(g, y, weights)</c>: the input gradient <c>[N, 2H]</c> in y's dtype and the
    /// weights gradient <c>Σ_j geglu(y)_j g_j</c>, <c>[N, 1]</c> in the weights' dtype (fp32 accumulation).
    /// </summary>
    /// <remarks>Calls <see cref="GeGlu.Backward(Tensor, Tensor, Tensor, Tensor, double?, GateLayout, Engines.Engine)"/> with the weights.</remarks>
    public static (Tensor InputGrad, Tensor WeightsGrad) WeightedGegluBack(Tensor g, Tensor y, Tensor weights)
    {
        var (inputGrad, weightsGrad, _) = Named(nameof(y), nameof(g), () => GeGlu.Backward(g, Contiguous(y, nameof(y)), weights));
        return (inputGrad, WeightsGrad(weightsGrad));
    }

    /// <summary>
    /// Reference <c>weighted_bias_geglu_impl(input, weights, fp8_input_store)</c> (the autograd function
    /// <c>WeightedGEGLUFunction</c>): differentiable weighted GEGLU of a 2-D <c>[N, 2H]</c> or 3-D
    /// <c>[s0, s1, 2H]</c> input with weights <c>[N, 1]</c> (N = s0·s1); output <c>[N, H]</c> or <c>[s0, s1, H]</c>.
    /// </summary>
    /// <param name="input">The pre-activation.</param>
    /// <param name="weights">Token weights <c>[N, 1]</c>.</param>
    /// <param name="fp8InputStore">Keep the input for backward as FP8 E4M3; it saturates at ±448 where the reference's cast gives NaN above 464.</param>
    /// <exception cref="System.ArgumentException"><paramref name="input"/> is neither 2-D nor 3-D.</exception>
    /// <remarks>Calls <see cref="GeGlu.Apply"/>.</remarks>
    public static Tensor WeightedBiasGegluImpl(Tensor input, Tensor weights, bool fp8InputStore = false)
        => GeGlu.Apply(RequireImplInput(input), weights, fp8InputStore: fp8InputStore);
}
