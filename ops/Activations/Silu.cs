using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>SiLU (swish): <c>x · σ(x)</c>.</summary>
[Activation]
public static partial class Silu
{
    /// <summary>The maths.</summary>
    public static float Forward(float x) => x * Sigmoid(x);
}
