using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>ReGLU: <c>relu(gate) · linear</c>.</summary>
[GatedActivation]
public static partial class ReGlu
{
    /// <summary>The maths; the gradient of relu at 0 is taken as 0 (PyTorch's convention).</summary>
    public static float Forward(float gate, float linear) => (gate > 0f ? gate : 0f) * linear;
}
