using MoeOpGen;
using static MoeOpGen.OpMath;

namespace PackageConsumer;

/// <summary>An activation MoeOpGen does not ship: <c>mish_β(gate) · linear</c>, with
/// <c>mish_β(a) = a · tanh(softplus(β a) / β)</c>. The generator in the package writes the rest.</summary>
[GatedActivation]
public static partial class MishGlu
{
    /// <summary>The maths; <paramref name="beta"/> is a runtime scalar.</summary>
    public static float Forward(float gate, float linear, [Scalar] float beta = 1f)
        => gate * Tanh(Log(1f + Exp(beta * gate)) / beta) * linear;
}
