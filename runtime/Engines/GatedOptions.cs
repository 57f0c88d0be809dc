namespace MoeOpGen.Engines;

/// <summary>The non-tensor options of a gated operator call.</summary>
/// <param name="ClampValue">Null: no clamp. Otherwise (0 included) gate = min(a, c), linear = clip(b, −c, c), before the bias.</param>
/// <param name="Fp8InputStore">Keep the (clamped) input for backward as FP8 E4M3, saturating at ±448.</param>
/// <param name="Layout">Where the gate and linear parts are.</param>
public readonly record struct GatedOptions(double? ClampValue = null, bool Fp8InputStore = false, GateLayout Layout = GateLayout.Halves);
