namespace MoeOpGen;

/// <summary>How a gated activation's input <c>[..., 2H]</c> holds its gate and linear parts.</summary>
public enum GateLayout
{
    /// <summary>Megatron's layout: gate = <c>x[..., :H]</c>, linear = <c>x[..., H:]</c>.</summary>
    Halves = 0,

    /// <summary>GPT-OSS's layout: gate = <c>x[..., 0::2]</c>, linear = <c>x[..., 1::2]</c>.</summary>
    Interleaved = 1,
}
