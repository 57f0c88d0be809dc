using System;
using System.Linq;
using MoeOpGen.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// A validated gated-operator call: the shapes every engine needs, derived once from the arguments. Every
/// rejection is an <see cref="ArgumentException"/> naming the argument, before any work or state change.
/// </summary>
internal readonly record struct GatedCall(long Rows, long Hidden, long[] OutputShape, bool Interleaved, float? Clamp)
{
    public static GatedCall Validate(Tensor input, Tensor? weights, Tensor? bias, GatedOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        TensorChecks.RequireCpuOrCuda(input, nameof(input));
        TensorChecks.RequireFloating(input, nameof(input));
        if (input.dim() < 1 || input.shape[^1] < 2 || input.shape[^1] % 2 != 0)
            throw new ArgumentException($"The last dimension of input must be a positive even number 2H (gate and linear parts); the shape is [{string.Join(", ", input.shape)}].", nameof(input));
        TensorChecks.RequireContiguous(input, nameof(input));
        long hidden = input.shape[^1] / 2;
        long rows = input.numel() / (2 * hidden);

        if (weights is not null)
        {
            TensorChecks.RequireSameDevice(weights, input, nameof(weights), nameof(input));
            TensorChecks.RequireFloating(weights, nameof(weights));
            if (weights.dim() < 2 || weights.shape[^1] != 1 || weights.numel() != rows)
                throw new ArgumentException($"weights must have shape [{rows}, 1] (one weight per row of input); it has [{string.Join(", ", weights.shape)}]. A [{rows}] vector would broadcast along the hidden dimension: unsqueeze(-1) it.", nameof(weights));
        }
        if (bias is not null)
        {
            TensorChecks.RequireSameDevice(bias, input, nameof(bias), nameof(input));
            if (bias.dim() != 1 || bias.shape[0] != 2 * hidden)
                throw new ArgumentException($"bias must have shape [{2 * hidden}] (the input's last dimension); it has [{string.Join(", ", bias.shape)}].", nameof(bias));
            if (bias.dtype != input.dtype)
                throw new ArgumentException($"bias must have the input's dtype {input.dtype}; it has {bias.dtype}.", nameof(bias));
            TensorChecks.RequireContiguous(bias, nameof(bias));
        }
        if (options.ClampValue is double c && (double.IsNaN(c) || c < 0))
            throw new ArgumentException($"clampValue must be a non-negative number or null (no clamp); it is {c}.", "clampValue");
        if (!Enum.IsDefined(options.Layout))
            throw new ArgumentException($"layout {options.Layout} is not a GateLayout.", "layout");

        var outShape = input.shape.ToArray();
        outShape[^1] = hidden;
        return new GatedCall(rows, hidden, outShape, options.Layout == GateLayout.Interleaved, options.ClampValue is double cv ? (float)cv : null);
    }
}
