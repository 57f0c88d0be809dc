using Microsoft.CodeAnalysis;

namespace MoeOpGen.Generator.Diagnostics;

/// <summary>
/// Every diagnostic MoeOpGen reports, in one place (the CommunityToolkit MVVM convention). Each id has a page in
/// docs/diagnostics/ that <see cref="DiagnosticDescriptor.HelpLinkUri"/> points to; AnalyzerReleases.*.md tracks them.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "MoeOpGen";
    private const string HelpBase = "https://github.com/moeopgen/moeopgen/blob/main/docs/diagnostics/";

    private static DiagnosticDescriptor Error(string id, string title, string message)
        => new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id + ".md");

    public static readonly DiagnosticDescriptor ClassNotPartial = Error("MOG0001",
        "Operator class must be partial", "Operator class '{0}' must be declared 'partial' so MoeOpGen can add the generated members");

    public static readonly DiagnosticDescriptor ClassNotStatic = Error("MOG0002",
        "Operator class must be static", "Operator class '{0}' must be declared 'static'");

    public static readonly DiagnosticDescriptor MissingForward = Error("MOG0003",
        "Operator has no Forward method", "Operator class '{0}' must declare 'static float Forward(…)' stating its maths");

    public static readonly DiagnosticDescriptor DuplicateForward = Error("MOG0004",
        "Operator has more than one Forward method", "Operator class '{0}' declares Forward more than once; declare exactly one");

    public static readonly DiagnosticDescriptor ForwardSignature = Error("MOG0005",
        "Forward has the wrong signature", "{0}");

    public static readonly DiagnosticDescriptor ScalarParameter = Error("MOG0006",
        "Extra Forward parameter must be a [Scalar] float", "Parameter '{0}' must be a 'float' marked [Scalar]: only the inputs ({1}) are differentiated");

    public static readonly DiagnosticDescriptor UnsupportedSyntax = Error("MOG0007",
        "Unsupported syntax in Forward", "'{0}' is not supported in Forward: {1}");

    public static readonly DiagnosticDescriptor UnsupportedCall = Error("MOG0008",
        "Unsupported function in Forward", "'{0}' is not in the MoeOpGen vocabulary (OpMath: Exp, Log, Sqrt, Tanh, Erf, Sigmoid, Pow, Abs, Min, Max, Clamp, or their MathF/Math twins)");

    public static readonly DiagnosticDescriptor NonConstantExponent = Error("MOG0009",
        "Pow needs a constant exponent", "The exponent of Pow must be a compile-time constant; '{0}' is not");

    public static readonly DiagnosticDescriptor NoDerivative = Error("MOG0010",
        "Function has no derivative", "'{0}' has no useful derivative (it is piecewise constant) and cannot appear in Forward");

    public static readonly DiagnosticDescriptor NameClash = Error("MOG0011",
        "Name clashes with a generated member", "'{0}' clashes with {1}; rename it");

    public static readonly DiagnosticDescriptor ConditionNotComparison = Error("MOG0012",
        "Condition must be one comparison", "The condition '{0}' must be a single <, <=, > or >= comparison");

    public static readonly DiagnosticDescriptor ScalarNeedsDefault = Error("MOG0013",
        "Scalar parameter needs a default value", "[Scalar] parameter '{0}' needs a constant default value: it becomes an optional parameter of Apply");

    public static readonly DiagnosticDescriptor UnsupportedContainer = Error("MOG0014",
        "Operator class must be a top-level non-generic class", "Operator class '{0}' must not be nested in another type or be generic");

    public static readonly DiagnosticDescriptor ConflictingAttributes = Error("MOG0015",
        "Operator class has both attributes", "Operator class '{0}' has both [GatedActivation] and [Activation]; choose one");

    public static readonly DiagnosticDescriptor InternalError = Error("MOG0099",
        "MoeOpGen generator failed", "MoeOpGen could not process '{0}': {1}. Please report this with the Forward body");
}
