using MoeOpGen;
using static MoeOpGen.OpMath;

namespace CustomActivation;

/// <summary>
/// A gated activation that MoeOpGen does not ship: <c>softplus_β(gate) · linear</c>. This class is all a user
/// writes; <c>Backward</c>, <c>ForwardF64</c>, <c>BackwardF64</c>, the CUDA module and the differentiable
/// <c>Apply</c> are generated from <c>Forward</c>.
/// </summary>
[GatedActivation]
public static partial class SoftplusGlu
{
    /// <summary>The maths: <c>log(1 + e^(β gate)) / β · linear</c>; β is a runtime scalar.</summary>
    public static float Forward(float gate, float linear, [Scalar] float beta = 1f)
        => Log(1f + Exp(beta * gate)) / beta * linear;
}
