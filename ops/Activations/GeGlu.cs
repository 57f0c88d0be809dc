using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>GEGLU with the tanh approximation of GELU (Gemma): <c>gelu_tanh(gate) · linear</c>.</summary>
[GatedActivation]
public static partial class GeGlu
{
    /// <summary>The maths: <c>½ gate (1 + tanh(√(2/π) (gate + 0.044715 gate³))) · linear</c>.</summary>
    public static float Forward(float gate, float linear)
    {
        var k = 0.7978845608028654f * (gate + 0.044715f * gate * gate * gate);
        return 0.5f * gate * (1f + Tanh(k)) * linear;
    }
}
