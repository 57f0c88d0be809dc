using static TorchSharp.torch;
// MoeUtils has a method named QuickGelu, which hides the operator class of the same name inside the class.
using QuickGeluOperator = MoeOpGen.Ops.QuickGelu;

namespace MoeOpGen.Ops;

// The reference's quick-GELU family (moe_utils-semantics.md §1.6–1.9), on the generated QuickGelu and QuickGeGlu
// operators. The reference hard-codes α = 1.702 everywhere except quick_gelu and (accepted, ignored) the impl.
public static partial class MoeUtils
{
    /// <summary>Reference <c>quick_gelu(y, alpha)</c>: <c>y · σ(α y)</c>, element-wise. Differentiable.</summary>
    /// <param name="y">Any shape.</param>
    /// <param name="alpha">The sigmoid's scale, passed to the kernel as a float.</param>
    /// <remarks>Calls <see cref="QuickGeluOperator.Apply"/>.</remarks>
    public static Tensor QuickGelu(Tensor y, double alpha = 1.702)
        => Named(nameof(y), null, () => QuickGeluOperator.Apply(Contiguous(y, nameof(y)), (float)alpha));

    /// <summary>Reference <c>quick_geglu(y, linear_offset)</c>: <c>quick_gelu(a) · (b + ℓ)</c>, <c>[N, 2H]</c> → <c>[N, H]</c>. Differentiable.</summary>
    /// <param name="y">The pre-activation <c>[N, 2H]</c>.</param>
    /// <param name="linearOffset">ℓ, a float scalar.</param>
    /// <remarks>Calls <see cref="QuickGeGlu.Apply"/> with α = 1.702.</remarks>
    public static Tensor QuickGeglu(Tensor y, double linearOffset = 0.0)
        => Named(nameof(y), null, () => QuickGeGlu.Apply(Contiguous(y, nameof(y)), alpha: ReferenceAlpha, linearOffset: (float)linearOffset));

    /// <summary>Reference <c>weighted_quick_geglu(y, weights, linear_offset)</c>: <c>quick_geglu(y, ℓ) · w</c> in y's dtype. Differentiable.</summary>
    /// <remarks>Calls <see cref="QuickGeGlu.Apply"/> with the weights and α = 1.702.</remarks>
    public static Tensor WeightedQuickGeglu(Tensor y, Tensor weights, double linearOffset = 0.0)
        => Named(nameof(y), null, () => QuickGeGlu.Apply(Contiguous(y, nameof(y)), weights, alpha: ReferenceAlpha, linearOffset: (float)linearOffset));

    /// <summary>Reference <c>quick_geglu_back(g, y, linear_offset)</c>: the input gradient <c>cat(da, db)</c>, <c>[N, 2H]</c>, in y's dtype.</summary>
    /// <remarks>Calls <see cref="QuickGeGlu.Backward(Tensor, Tensor, Tensor, Tensor, float, float, double?, GateLayout, Engines.Engine)"/> with α = 1.702; <paramref name="g"/> must have y's dtype.</remarks>
    public static Tensor QuickGegluBack(Tensor g, Tensor y, double linearOffset = 0.0)
        => Named(nameof(y), nameof(g), () => QuickGeGlu.Backward(g, Contiguous(y, nameof(y)), alpha: ReferenceAlpha, linearOffset: (float)linearOffset).InputGrad);

    /// <summary>
    /// Reference <c>weighted_quick_geglu_back(g, y, weights, linear_offset)</c>: the input gradient <c>[N, 2H]</c> in
    /// y's dtype and the weights gradient <c>Σ_j quick_geglu(y, ℓ)_j g_j</c>, <c>[N, 1]</c> in the weights' dtype.
    /// </summary>
    /// <remarks>Calls <see cref="QuickGeGlu.Backward(Tensor, Tensor, Tensor, Tensor, float, float, double?, GateLayout, Engines.Engine)"/> with the weights and α = 1.702.</remarks>
    public static (Tensor InputGrad, Tensor WeightsGrad) WeightedQuickGegluBack(Tensor g, Tensor y, Tensor weights, double linearOffset = 0.0)
    {
        var (inputGrad, weightsGrad, _) = Named(nameof(y), nameof(g), () => QuickGeGlu.Backward(g, Contiguous(y, nameof(y)), weights, alpha: ReferenceAlpha, linearOffset: (float)linearOffset));
        return (inputGrad, WeightsGrad(weightsGrad));
    }

    /// <summary>Reference <c>weighted_bias_quick_geglu(y, bias, weights, linear_offset)</c>: <c>quick_geglu(y + bias, ℓ) · w</c> in y's dtype. Differentiable.</summary>
    /// <param name="y">The pre-activation <c>[N, 2H]</c>.</param>
    /// <param name="bias">The bias <c>[2H]</c>, in y's dtype.</param>
    /// <param name="weights">Token weights <c>[N, 1]</c>.</param>
    /// <param name="linearOffset">ℓ, a float scalar.</param>
    /// <remarks>Calls <see cref="QuickGeGlu.Apply"/> with the weights, the bias and α = 1.702.</remarks>
    public static Tensor WeightedBiasQuickGeglu(Tensor y, Tensor bias, Tensor weights, double linearOffset = 0.0)
        => Named(nameof(y), null, () => QuickGeGlu.Apply(Contiguous(y, nameof(y)), weights, Contiguous(bias, nameof(bias)), alpha: ReferenceAlpha, linearOffset: (float)linearOffset));

    /// <summary>
    /// Reference <c>weighted_bias_quick_geglu_back(g, y, bias, weights, linear_offset)</c>: the gradients of y
    /// (<c>[N, 2H]</c>, y's dtype), of the bias and of the weights (<c>[N, 1]</c>, the weights' dtype).
    /// </summary>
    /// <remarks>
    /// Difference: <c>BiasGrad</c> is reduced to the bias's shape <c>[2H]</c> (the sum of the input gradient over
    /// rows, accumulated in fp32, in y's dtype). The reference returns the un-reduced <c>[N, 2H]</c> input gradient
    /// and relies on PyTorch's autograd to sum it, which a direct caller has to do itself.
    /// Calls <see cref="QuickGeGlu.Backward(Tensor, Tensor, Tensor, Tensor, float, float, double?, GateLayout, Engines.Engine)"/> with the weights, the bias and α = 1.702.
    /// </remarks>
    public static (Tensor InputGrad, Tensor BiasGrad, Tensor WeightsGrad) WeightedBiasQuickGegluBack(
        Tensor g, Tensor y, Tensor bias, Tensor weights, double linearOffset = 0.0)
    {
        var (inputGrad, weightsGrad, biasGrad) = Named(nameof(y), nameof(g), () => QuickGeGlu.Backward(
            g, Contiguous(y, nameof(y)), weights, Contiguous(bias, nameof(bias)), alpha: ReferenceAlpha, linearOffset: (float)linearOffset));
        return (inputGrad,
            biasGrad ?? throw new System.InvalidOperationException("The generated backward returned no bias gradient although a bias was given."),
            WeightsGrad(weightsGrad));
    }

    /// <summary>
    /// Reference <c>weighted_bias_quick_geglu_impl(input, bias, weights, fp8_input_store, linear_offset,
    /// clamp_value, alpha)</c>: differentiable <c>a' σ(α a') (b' + ℓ) · w</c> of a 2-D <c>[N, 2H]</c> or 3-D
    /// <c>[s0, s1, 2H]</c> input, with <c>a' = min(a, c)</c>, <c>b' = clip(b, −c, c)</c> applied before the bias
    /// is added. Output <c>[N, H]</c> or <c>[s0, s1, H]</c>.
    /// </summary>
    /// <param name="input">The pre-activation, 2-D or 3-D.</param>
    /// <param name="bias">Optional bias <c>[2H]</c> in the input's dtype; its gradient is <c>[2H]</c>.</param>
    /// <param name="weights">Token weights <c>[N, 1]</c>.</param>
    /// <param name="fp8InputStore">Keep the (clamped) input for backward as FP8 E4M3; it saturates at ±448 where the reference's cast gives NaN above 464.</param>
    /// <param name="linearOffset">ℓ, a float scalar (the reference makes it a tensor of the input's dtype: in bf16, 0.1 becomes 0.10009765625).</param>
    /// <param name="clampValue">Null: no clamp; any other value, 0 included, clamps (the reference's rule).</param>
    /// <param name="alpha">The quick-GELU constant. Honoured here; the reference accepts it and always uses 1.702.</param>
    /// <exception cref="System.ArgumentException"><paramref name="input"/> is neither 2-D nor 3-D.</exception>
    /// <remarks>Calls <see cref="QuickGeGlu.Apply"/>.</remarks>
    public static Tensor WeightedBiasQuickGegluImpl(Tensor input, Tensor? bias, Tensor weights, bool fp8InputStore = false,
        double linearOffset = 0.0, double? clampValue = null, double alpha = 1.702)
        => QuickGeGlu.Apply(RequireImplInput(input), weights, bias is null ? null : Contiguous(bias, nameof(bias)),
            alpha: (float)alpha, linearOffset: (float)linearOffset, clampValue: clampValue, fp8InputStore: fp8InputStore);
}
