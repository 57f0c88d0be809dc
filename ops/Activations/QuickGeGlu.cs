using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>Quick-GELU gated linear unit (GPT-OSS experts): <c>gate · σ(α gate) · (linear + ℓ)</c>.</summary>
[GatedActivation]
public static partial class QuickGeGlu
{
    /// <summary>The maths; α = 1.702 and the linear offset ℓ are runtime scalars.</summary>
    public static float Forward(float gate, float linear, [Scalar] float alpha = 1.702f, [Scalar] float linearOffset = 0f)
        => gate * Sigmoid(alpha * gate) * (linear + linearOffset);
}
