using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>The precision in which routing sums are accumulated, shared by the fused and the composite paths.</summary>
/// <remarks>
/// The reference accumulates in the type-promoted dtype of tokens × probs: fp32 for bf16 tokens with fp32 probs, but
/// bf16 when no probs are given. MoeOpGen always accumulates in at least fp32 (fp64 when the tokens or the probs are
/// fp64) and rounds once to the tokens' dtype.
/// </remarks>
internal static class RoutingPrecision
{
    public static ScalarType Accumulator(ScalarType tokens, ScalarType? probs = null)
        => tokens == ScalarType.Float64 || probs == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    public static bool IsSupportedFloat(ScalarType type)
        => type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;
}
