using System;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using static TorchSharp.torch;

namespace MoeOpGen.Bench.Cpu;

/// <summary>The operator configurations the benchmark compares (the CPU target names them).</summary>
public enum GatedCase
{
    /// <summary>SwiGlu, no variant.</summary>
    SwiGlu,

    /// <summary>QuickGeGlu (α = 1.702) with token weights, bias and clamp 7 (GPT-OSS's expert activation).</summary>
    QuickGeGluWeightsBiasClamp,

    /// <summary>GEGLU with the exact erf GELU, no variant.</summary>
    GeGluErf,
}

/// <summary>The storage dtype of input, gradient and bias (arithmetic is fp32 either way).</summary>
public enum StorageType
{
    /// <summary>float32.</summary>
    Fp32,

    /// <summary>bfloat16.</summary>
    Bf16,
}

/// <summary>Forward and backward of one <see cref="GatedCase"/> on a chosen engine.</summary>
internal static class GatedCases
{
    /// <summary>GPT-OSS's clamp limit.</summary>
    private const double ClampValue = 7.0;

    public static bool HasWeightsAndBias(GatedCase op) => op == GatedCase.QuickGeGluWeightsBiasClamp;

    public static Tensor Forward(GatedCase op, Tensor input, Tensor? weights, Tensor? bias, Engine engine) => op switch
    {
        GatedCase.SwiGlu => SwiGlu.Forward(input, engine: engine),
        GatedCase.QuickGeGluWeightsBiasClamp => QuickGeGlu.Forward(input, weights, bias, clampValue: ClampValue, engine: engine),
        GatedCase.GeGluErf => GeGluErf.Forward(input, engine: engine),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    public static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) Backward(GatedCase op, Tensor grad, Tensor input, Tensor? weights, Tensor? bias, Engine engine) => op switch
    {
        GatedCase.SwiGlu => SwiGlu.Backward(grad, input, engine: engine),
        GatedCase.QuickGeGluWeightsBiasClamp => QuickGeGlu.Backward(grad, input, weights, bias, clampValue: ClampValue, engine: engine),
        GatedCase.GeGluErf => GeGluErf.Backward(grad, input, engine: engine),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };
}
