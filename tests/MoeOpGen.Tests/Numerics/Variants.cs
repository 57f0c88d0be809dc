using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>One combination of the variants every gated operator gets for free.</summary>
public sealed record Variant(string Name, bool Weights, bool Bias, double? Clamp, bool Fp8, GateLayout Layout)
{
    public override string ToString() => Name;
}

/// <summary>The variant and dtype tables the theories run over, and the inputs they are fed.</summary>
public static class Variants
{
    /// <summary>Clamp value of the clamp variants: inputs are N(0, 1.5²), so a good share of them is clipped.</summary>
    public const double Clamp = 1.0;

    public static readonly IReadOnlyList<Variant> All =
    [
        new("plain", false, false, null, false, GateLayout.Halves),
        new("weighted", true, false, null, false, GateLayout.Halves),
        new("bias", false, true, null, false, GateLayout.Halves),
        new("weighted+bias", true, true, null, false, GateLayout.Halves),
        new("clamp", false, false, Clamp, false, GateLayout.Halves),
        new("clamp0", false, false, 0.0, false, GateLayout.Halves),
        new("weighted+bias+clamp", true, true, Clamp, false, GateLayout.Halves),
        new("interleaved", false, false, null, false, GateLayout.Interleaved),
        new("interleaved+weighted+bias+clamp", true, true, Clamp, false, GateLayout.Interleaved),
        new("fp8", false, false, null, true, GateLayout.Halves),
        new("weighted+bias+clamp+fp8", true, true, Clamp, true, GateLayout.Halves),
    ];

    /// <summary>The variants the explicit Forward/Backward take (the FP8 store exists only under autograd).</summary>
    public static IEnumerable<Variant> Explicit => All.Where(v => !v.Fp8);

    public static readonly IReadOnlyList<ScalarType> Dtypes = [ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16];

    public static Variant ByName(string name) => All.Single(v => v.Name == name);

    public static ScalarType Dtype(string name) => Dtypes.Single(d => d.ToString() == name);

    /// <summary>Every gated operator × explicit variant × dtype, by name (readable test names, serialisable data).</summary>
    public static TheoryData<string, string, string> GatedExplicitMatrix()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var op in OperatorCases.Gated)
            foreach (var v in Explicit)
                foreach (var d in Dtypes)
                    data.Add(op.Name, v.Name, d.ToString());
        return data;
    }

    /// <summary>Every gated operator × non-FP8 variant × dtype, for the autograd comparison.</summary>
    public static TheoryData<string, string, string> GatedAutogradMatrix() => GatedExplicitMatrix();

    public static TheoryData<string> GatedNames()
    {
        var data = new TheoryData<string>();
        foreach (var op in OperatorCases.Gated) data.Add(op.Name);
        return data;
    }

    public static TheoryData<string> UnaryNames()
    {
        var data = new TheoryData<string>();
        foreach (var op in OperatorCases.Unary) data.Add(op.Name);
        return data;
    }

    public static TheoryData<string, string> UnaryByDtype()
    {
        var data = new TheoryData<string, string>();
        foreach (var op in OperatorCases.Unary)
            foreach (var d in Dtypes)
                data.Add(op.Name, d.ToString());
        return data;
    }

    /// <summary>Token weights are fp32 (fp64 for fp64 input), as the reference keeps its router probabilities.</summary>
    public static ScalarType WeightType(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}

/// <summary>The tensors of one gated call, from a fixed seed.</summary>
public sealed record GatedInputs(Tensor Input, Tensor? Weights, Tensor? Bias, Tensor UpstreamGrad)
{
    public static GatedInputs Create(Variant variant, ScalarType dtype, long rows = 5, long hidden = 12, int seed = 1, double scale = 1.5)
    {
        var gen = new torch.Generator((ulong)seed);
        var input = (torch.randn([rows, 2 * hidden], generator: gen) * scale).to(dtype);
        var weights = variant.Weights ? torch.rand([rows, 1], generator: gen).add(0.5).to(Variants.WeightType(dtype)) : null;
        var bias = variant.Bias ? (torch.randn([2 * hidden], generator: gen) * 0.5).to(dtype) : null;
        var grad = torch.randn([rows, hidden], generator: gen).to(dtype);
        return new GatedInputs(input, weights, bias, grad);
    }
}
