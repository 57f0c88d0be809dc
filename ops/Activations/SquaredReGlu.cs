namespace MoeOpGen.Ops;

/// <summary>Squared-ReLU gated linear unit: <c>relu(gate)² · linear</c>.</summary>
[GatedActivation]
public static partial class SquaredReGlu
{
    /// <summary>The maths.</summary>
    public static float Forward(float gate, float linear)
    {
        var r = gate > 0f ? gate : 0f;
        return r * r * linear;
    }
}
