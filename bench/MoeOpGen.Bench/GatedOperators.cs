using System;
using System.Collections.Generic;
using MoeOpGen.Cuda;
using MoeOpGen.Ops;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>One shipped gated operator, reached through its generated API (Apply / Forward / Backward).</summary>
/// <param name="Name">The class name, e.g. SwiGlu.</param>
/// <param name="Family">Its name in the case keys shared with the peers script (swiglu, geglu, quick_geglu, …).</param>
/// <param name="Module">Its CUDA module (generated <c>CudaSource</c> property), for precompiling.</param>
/// <param name="Apply">The differentiable entry point: input, weights, bias, clamp value, fp8 input store.</param>
/// <param name="Forward">Forward without autograd: input, weights, bias, clamp value.</param>
/// <param name="Backward">Backward without autograd: grad, input, weights, bias, clamp value.</param>
internal sealed record GatedOperator(
    string Name,
    string Family,
    CudaSource Module,
    Func<Tensor, Tensor?, Tensor?, double?, bool, Tensor> Apply,
    Func<Tensor, Tensor?, Tensor?, double?, Tensor> Forward,
    Func<Tensor, Tensor, Tensor?, Tensor?, double?, (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad)> Backward)
{
    /// <summary>GPT-OSS's quick-GEGLU linear offset (the peers use the same, semantics §2.3).</summary>
    public const float GptOssLinearOffset = 1f;

    /// <summary>Every gated operator of ops/Activations. Scalars other than the linear offset keep their defaults.</summary>
    public static IReadOnlyList<GatedOperator> All { get; } =
    [
        new("SwiGlu", "swiglu", SwiGlu.CudaSource,
            (x, w, b, c, f) => SwiGlu.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => SwiGlu.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => SwiGlu.Backward(g, x, w, b, clampValue: c)),
        new("GeGlu", "geglu", GeGlu.CudaSource,
            (x, w, b, c, f) => GeGlu.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => GeGlu.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => GeGlu.Backward(g, x, w, b, clampValue: c)),
        new("QuickGeGlu", "quick_geglu", QuickGeGlu.CudaSource,
            (x, w, b, c, f) => QuickGeGlu.Apply(x, w, b, linearOffset: GptOssLinearOffset, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => QuickGeGlu.Forward(x, w, b, linearOffset: GptOssLinearOffset, clampValue: c),
            (g, x, w, b, c) => QuickGeGlu.Backward(g, x, w, b, linearOffset: GptOssLinearOffset, clampValue: c)),
        new("GeGluErf", "geglu_erf", GeGluErf.CudaSource,
            (x, w, b, c, f) => GeGluErf.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => GeGluErf.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => GeGluErf.Backward(g, x, w, b, clampValue: c)),
        new("ReGlu", "reglu", ReGlu.CudaSource,
            (x, w, b, c, f) => ReGlu.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => ReGlu.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => ReGlu.Backward(g, x, w, b, clampValue: c)),
        new("SquaredReGlu", "squared_reglu", SquaredReGlu.CudaSource,
            (x, w, b, c, f) => SquaredReGlu.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => SquaredReGlu.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => SquaredReGlu.Backward(g, x, w, b, clampValue: c)),
        new("SiTuGlu", "situglu", SiTuGlu.CudaSource,
            (x, w, b, c, f) => SiTuGlu.Apply(x, w, b, clampValue: c, fp8InputStore: f),
            (x, w, b, c) => SiTuGlu.Forward(x, w, b, clampValue: c),
            (g, x, w, b, c) => SiTuGlu.Backward(g, x, w, b, clampValue: c)),
    ];

    /// <summary>Parses <c>--ops</c>: comma-separated class or family names, or "all".</summary>
    public static IReadOnlyList<GatedOperator> Parse(string list, string optionName)
    {
        if (list.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return All;
        var result = new List<GatedOperator>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var op = System.Linq.Enumerable.FirstOrDefault(All, o => o.Name.Equals(item, StringComparison.OrdinalIgnoreCase)
                                                                   || o.Family.Equals(item, StringComparison.OrdinalIgnoreCase))
                     ?? throw new ArgumentException($"{optionName}: unknown operator '{item}' (known: {string.Join(", ", System.Linq.Enumerable.Select(All, o => o.Name))}).", optionName);
            if (!result.Contains(op)) result.Add(op);
        }
        return result.Count > 0 ? result : throw new ArgumentException($"{optionName} names no operator.", optionName);
    }
}

/// <summary>
/// A variant of a gated call. Keys are shared with the peers script. Forward and Backward alone have no FP8 store
/// (it only changes what forward saves for backward), so the fp8 variants exist only for forward+backward.
/// </summary>
internal sealed record GatedVariant(string Key, bool Weights, bool Bias, bool Clamp, bool Fp8)
{
    /// <summary>GPT-OSS's clamp limit (the peers clamp at the same value).</summary>
    public const double ClampValue = 7.0;

    public double? ClampOrNull => Clamp ? ClampValue : null;

    public static readonly GatedVariant Plain = new("plain", false, false, false, false);
    public static readonly GatedVariant Weighted = new("weighted", true, false, false, false);
    public static readonly GatedVariant WeightedBias = new("weighted+bias", true, true, false, false);
    public static readonly GatedVariant WeightedBiasClamp = new("weighted+bias+clamp", true, true, true, false);
    public static readonly GatedVariant WeightedFp8 = new("weighted+fp8", true, false, false, true);
    public static readonly GatedVariant WeightedBiasClampFp8 = new("weighted+bias+clamp+fp8", true, true, true, true);

    /// <summary>Timed for forward alone and backward alone.</summary>
    public static IReadOnlyList<GatedVariant> ExplicitVariants { get; } = [Plain, Weighted, WeightedBias, WeightedBiasClamp];

    /// <summary>Timed for forward+backward through the autograd wrapper.</summary>
    public static IReadOnlyList<GatedVariant> AutogradVariants { get; } =
        [Plain, Weighted, WeightedBias, WeightedBiasClamp, WeightedFp8, WeightedBiasClampFp8];
}
