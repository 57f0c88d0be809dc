using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>SwiGLU, <c>silu(gate) · linear</c> (Megatron's <c>swiglu</c>; with a clamp value, DeepSeek-V4's clamped SwiGLU).</summary>
[GatedActivation]
public static partial class SwiGlu
{
    /// <summary>The maths: <c>gate · σ(gate) · linear</c>.</summary>
    public static float Forward(float gate, float linear) => gate * Sigmoid(gate) * linear;
}
