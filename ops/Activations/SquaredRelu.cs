namespace MoeOpGen.Ops;

/// <summary>Squared ReLU (Primer, Nemotron): <c>relu(x)²</c>.</summary>
[Activation]
public static partial class SquaredRelu
{
    /// <summary>The maths.</summary>
    public static float Forward(float x)
    {
        var r = x > 0f ? x : 0f;
        return r * r;
    }
}
