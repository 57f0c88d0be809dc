using MoeOpGen.Generator.Maths;

namespace MoeOpGen.Generator.Model;

internal enum OperatorKind { Gated, Unary }

/// <summary>A [Scalar] parameter of Forward: a kernel argument with a default value.</summary>
internal sealed record ScalarParameter(string Name, double DefaultValue);

/// <summary>
/// Everything the emitters need to know about one operator, as equatable data: no ISymbol, SyntaxNode or
/// Compilation, so the incremental pipeline can cache it and skip emitting when the maths did not change.
/// </summary>
internal sealed record OperatorModel(
    string? Namespace,
    string ClassName,
    string HintName,
    string Accessibility,
    OperatorKind Kind,
    EquatableArray<ScalarParameter> Scalars,
    string Formula,
    StraightLineProgram Forward,
    StraightLineProgram Backward,
    StraightLineProgram ValueAndGradients)
{
    /// <summary>The inputs as the generated code names them: gate and linear, or x.</summary>
    public string[] Inputs => Kind == OperatorKind.Gated ? ["gate", "linear"] : ["x"];

    /// <summary>The gradient outputs as the generated code names them.</summary>
    public string[] GradientNames => Kind == OperatorKind.Gated ? ["dGate", "dLinear"] : ["dX"];

    /// <summary>Stable CUDA kernel prefix, e.g. <c>quickgeglu</c> in <c>quickgeglu_bwd_bf16_wbc</c>.</summary>
    public string KernelPrefix => ClassName.ToLowerInvariant();
}

/// <summary>What parsing one attributed class produced: a model, or the diagnostics that explain why not.</summary>
internal sealed record ParseResult(OperatorModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
