using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Ops;

/// <summary>
/// The facade of the reference module <c>nemo_automodel.components.moe.megatron.moe_utils</c> (Megatron-LM's MoE
/// utilities): one C# method per reference function, with the reference's arguments and results. Each method
/// delegates to a generated operator (<see cref="SwiGlu"/>, <see cref="GeGlu"/>, <see cref="Ops.QuickGelu"/>,
/// <see cref="QuickGeGlu"/>) or to the routing in <c>MoeOpGen.Moe.TokenPermutation</c>, so the facade holds no maths.
/// </summary>
/// <remarks>
/// <para>Layout and shapes follow the reference: <c>y [N, 2H]</c> is split into the gate (first half) and linear
/// (second half) parts, token weights are <c>[N, 1]</c>, gradients <c>g</c> are <c>[N, H]</c>.</para>
/// <para>Differences from the reference (also listed in docs/reference-mapping.md):</para>
/// <list type="bullet">
/// <item>bf16/fp16 results are rounded once from fp32 arithmetic; the eager reference rounds after each operation
/// (under <c>torch.compile</c>, as the reference runs, it also rounds once).</item>
/// <item><see cref="WeightedBiasQuickGegluImpl"/> honours <c>alpha</c>; the reference accepts it and uses 1.702.</item>
/// <item>The FP8 (E4M3) input store saturates at ±448; the reference's cast turns |x| &gt; 464 into NaN.</item>
/// <item><see cref="WeightedBiasQuickGegluBack"/> returns the bias gradient reduced to the bias's shape <c>[2H]</c>;
/// the reference returns the un-reduced <c>[N, 2H]</c> input gradient and lets PyTorch's autograd sum it.</item>
/// <item>The linear offset and alpha are float scalars; the reference's impl makes the offset a tensor of the
/// input's dtype (in bf16, 0.1 becomes 0.10009765625).</item>
/// <item>Unpermute accumulates in fp32 always; the reference does only when the probs are fp32.</item>
/// </list>
/// </remarks>
public static partial class MoeUtils
{
    /// <summary>The reference's quick-GELU constant, used where it hard-codes it (quick_geglu and its backward).</summary>
    private const float ReferenceAlpha = 1.702f;

    /// <summary>
    /// The generated operators require a contiguous input; the reference accepts any strides, so a strided view is
    /// copied here (a contiguous tensor passes through as is, without a new handle).
    /// </summary>
    private static Tensor Contiguous(Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        return tensor.is_contiguous() ? tensor : tensor.contiguous();
    }

    /// <summary>The <c>*_impl</c> functions of the reference assert a 2-D <c>[N, 2H]</c> or 3-D <c>[s0, s1, 2H]</c> input.</summary>
    private static Tensor RequireImplInput(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() is not (2 or 3))
            throw new ArgumentException(
                $"input must be 2-D [tokens, 2H] or 3-D [s0, s1, 2H], as in the reference; it has shape [{string.Join(", ", input.shape)}].",
                nameof(input));
        return Contiguous(input, nameof(input));
    }

    /// <summary>
    /// Runs a generated operator under the reference's argument names. The operators call their arguments
    /// <c>input</c> and <c>grad</c>; the reference's functions call them <c>y</c> and <c>g</c>. An
    /// <see cref="ArgumentException"/> about one of them is thrown again naming the caller's argument, so
    /// <c>ParamName</c> and the message name what the caller passed.
    /// </summary>
    private static T Named<T>(string inputName, string? gradName, Func<T> call)
    {
        try
        {
            return call();
        }
        catch (ArgumentException e) when (e.ParamName is "input" or "grad" && (e.ParamName == "input" ? inputName : gradName) is { } name && name != e.ParamName)
        {
            // e.Message ends with " (Parameter 'input')"; the new exception appends its own.
            string message = e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            message = System.Text.RegularExpressions.Regex.Replace(message, $@"\b{e.ParamName}\b", name);
            throw e switch
            {
                ArgumentNullException => new ArgumentNullException(name, message),
                ArgumentOutOfRangeException => new ArgumentOutOfRangeException(name, message),
                _ => new ArgumentException(message, name, e),
            };
        }
    }

    /// <summary>The weights gradient of a weighted backward; the generated operator returns one whenever weights are given.</summary>
    private static Tensor WeightsGrad(Tensor? weightsGrad)
        => weightsGrad ?? throw new InvalidOperationException("The generated backward returned no weights gradient although weights were given.");
}
