using static MoeOpGen.OpMath;

namespace MoeOpGen.Ops;

/// <summary>Quick-GELU, the sigmoid approximation of GELU: <c>x · σ(αx)</c>, α = 1.702.</summary>
[Activation]
public static partial class QuickGelu
{
    /// <summary>The maths.</summary>
    public static float Forward(float x, [Scalar] float alpha = 1.702f) => x * Sigmoid(alpha * x);
}
