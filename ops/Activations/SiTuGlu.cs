using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>
/// SiTU-GLU (Kimi K3): a soft-capped SiLU gate times a soft-capped linear part,
/// <c>β₁ tanh(gate/β₁) σ(gate) · β₂ tanh(linear/β₂)</c>, β₁ = 4, β₂ = 25.
/// </summary>
[GatedActivation]
public static partial class SiTuGlu
{
    /// <summary>The maths.</summary>
    public static float Forward(float gate, float linear, [Scalar] float gateCap = 4f, [Scalar] float linearCap = 25f)
        => gateCap * Tanh(gate / gateCap) * Sigmoid(gate) * (linearCap * Tanh(linear / linearCap));
}
