using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>GEGLU with the exact (erf) GELU: <c>½ gate (1 + erf(gate / √2)) · linear</c>.</summary>
[GatedActivation]
public static partial class GeGluErf
{
    /// <summary>The maths.</summary>
    public static float Forward(float gate, float linear) => 0.5f * gate * (1f + Erf(gate * 0.7071067811865476f)) * linear;
}
