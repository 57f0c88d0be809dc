using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Ops;
using static TorchSharp.torch;

namespace MoeDemo;

/// <summary>A generated gated operator applied to <c>[tokens, 2F]</c>: <c>[tokens, F]</c> out, differentiable.</summary>
public delegate Tensor GatedActivation(Tensor input, double? clampValue);

/// <summary>The shipped gated operators the demo can put in its experts, by command-line name. Each one's
/// backward, fused CPU kernel and CUDA kernels were generated from its one-line <c>Forward</c> in ops/Activations.</summary>
public static class GatedActivations
{
    private static readonly Dictionary<string, GatedActivation> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["swiglu"] = (x, c) => SwiGlu.Apply(x, clampValue: c),
        ["geglu"] = (x, c) => GeGlu.Apply(x, clampValue: c),
        ["geglu-erf"] = (x, c) => GeGluErf.Apply(x, clampValue: c),
        ["quick-geglu"] = (x, c) => QuickGeGlu.Apply(x, clampValue: c),
        ["reglu"] = (x, c) => ReGlu.Apply(x, clampValue: c),
        ["squared-reglu"] = (x, c) => SquaredReGlu.Apply(x, clampValue: c),
        ["situglu"] = (x, c) => SiTuGlu.Apply(x, clampValue: c),
    };

    /// <summary>The names accepted by <see cref="Get"/>, in a stable order.</summary>
    public static IReadOnlyList<string> Names { get; } = ByName.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>The operator called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such operator.</exception>
    public static GatedActivation Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(name, out var activation)
            ? activation
            : throw new ArgumentException($"Unknown activation '{name}'; choose one of: {string.Join(", ", Names)}.", nameof(name));
    }

    public static bool Contains(string name) => ByName.ContainsKey(name);
}
