using System.IO;
using System.Linq;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests;

/// <summary>
/// Each MOG diagnostic, triggered by the smallest operator that shows it, must be the generator's only diagnostic
/// and sit on the offending syntax (marked <c>[|…|]</c> in the case). MOG0099 (internal error) has no case: it only
/// wraps an exception the generator did not expect, and no valid or invalid input is known to raise one — a case
/// that did would be a generator bug to fix, not a test to keep.
/// </summary>
public sealed class DiagnosticTests
{
    private const string Usings = "using MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace Tests;\n\n";

    public static TheoryData<string, string> Cases { get; } = new()
    {
        { "MOG0001", "[GatedActivation]\npublic static class [|NotPartial|]\n{\n    static float Forward(float gate, float linear) => gate * linear;\n}" },
        { "MOG0002", "[GatedActivation]\npublic partial class [|NotStatic|]\n{\n    static float Forward(float gate, float linear) => gate * linear;\n}" },
        { "MOG0003", "[Activation]\npublic static partial class [|NoForward|]\n{\n    static float Identity(float x) => x;\n}" },
        { "MOG0004", "[Activation]\npublic static partial class TwoForwards\n{\n    static float Forward(float x) => x;\n    static float [|Forward|](float x, float y) => x * y;\n}" },
        { "MOG0005", "[Activation]\npublic static partial class ReturnsDouble\n{\n    static double [|Forward|](float x) => x;\n}" },
        { "MOG0006", "[GatedActivation]\npublic static partial class UnmarkedScalar\n{\n    static float Forward(float gate, float linear, [|float beta = 1f|]) => gate * beta * linear;\n}" },
        { "MOG0007", "[Activation]\npublic static partial class Remainder\n{\n    static float Forward(float x) => [|x % 2f|];\n}" },
        { "MOG0008", "[Activation]\npublic static partial class Sine\n{\n    static float Forward(float x) => [|System.MathF.Sin(x)|];\n}" },
        { "MOG0009", "[GatedActivation]\npublic static partial class VariablePower\n{\n    static float Forward(float gate, float linear) => Pow(gate, [|linear|]);\n}" },
        { "MOG0010", "[Activation]\npublic static partial class Steps\n{\n    static float Forward(float x) => x * [|System.MathF.Floor(x)|];\n}" },
        { "MOG0011", "[Activation]\npublic static partial class ClashingMember\n{\n    static float Forward(float x) => x;\n    static void [|Apply|]() { }\n}" },
        { "MOG0012", "[Activation]\npublic static partial class EqualityCondition\n{\n    static float Forward(float x) => [|x == 0f|] ? 1f : x;\n}" },
        { "MOG0013", "[Activation]\npublic static partial class ScalarWithoutDefault\n{\n    static float Forward(float x, [Scalar] float [|beta|]) => beta * x;\n}" },
        { "MOG0014", "public static class Outer\n{\n    [Activation]\n    public static partial class [|Nested|]\n    {\n        static float Forward(float x) => x;\n    }\n}" },
        { "MOG0015", "[Activation, GatedActivation]\npublic static partial class [|BothKinds|]\n{\n    static float Forward(float gate, float linear) => gate * linear;\n}" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_diagnostic_is_reported_once_on_the_offending_syntax(string id, string markedBody)
    {
        var source = MarkedSource.Parse(Usings + markedBody);

        var run = GeneratorHarness.Run(source.Text);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(source.SpanText, source.Text.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void Every_case_has_a_distinct_id_and_every_reportable_id_has_a_case()
    {
        var ids = Cases.Select(row => row.Data.Item1).ToList();
        Assert.Equal(ids.Distinct().Count(), ids.Count);
        Assert.Equal(Enumerable.Range(1, 15).Select(i => $"MOG{i:0000}"), ids.Order());
    }

    [Fact]
    public void A_scalar_named_like_a_generated_parameter_is_a_name_clash_on_its_name()
    {
        var source = MarkedSource.Parse(Usings + "[Activation]\npublic static partial class ScalarNamedBias\n{\n    static float Forward(float x, [Scalar] float [|bias|] = 0f) => x + bias;\n}");

        var diagnostic = Assert.Single(GeneratorHarness.Run(source.Text).GeneratorDiagnostics);

        Assert.Equal("MOG0011", diagnostic.Id);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void An_input_that_is_not_a_plain_float_is_a_signature_error_on_that_parameter()
    {
        var source = MarkedSource.Parse(Usings + "[GatedActivation]\npublic static partial class IntegerGate\n{\n    static float Forward([|int gate|], float linear) => gate * linear;\n}");

        var diagnostic = Assert.Single(GeneratorHarness.Run(source.Text).GeneratorDiagnostics);

        Assert.Equal("MOG0005", diagnostic.Id);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void Every_diagnostic_links_to_its_documentation_page_and_the_page_exists()
    {
        foreach (var descriptor in typeof(Diagnostics.DiagnosticDescriptors).GetFields()
                     .Select(f => f.GetValue(null)).OfType<Microsoft.CodeAnalysis.DiagnosticDescriptor>())
        {
            Assert.Equal($"https://github.com/moeopgen/moeopgen/blob/main/docs/diagnostics/{descriptor.Id}.md", descriptor.HelpLinkUri);
            Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, "docs", "diagnostics", descriptor.Id + ".md")), $"docs/diagnostics/{descriptor.Id}.md is missing");
        }
    }

    /// <summary>Accepted shapes of operators: each must generate without diagnostics and compile without warnings.</summary>
    public static TheoryData<string> ValidOperators { get; } = new()
    {
        // Block body with locals, MathF and Math twins, casts, a const local and a const field.
        "[GatedActivation]\npublic static partial class Locals\n{\n    private const float Half = 0.5f;\n    static float Forward(float gate, float linear)\n    {\n        const float two = 2f;\n        var s = MathF.Exp(-gate * two);\n        var t = (float)Math.Tanh(gate);\n        return Half * (s + t) * linear;\n    }\n}",
        // A unary operator with a scalar, internal, in the global namespace.
        "[Activation]\ninternal static partial class Softplus\n{\n    static float Forward(float x, [Scalar] float beta = 1f) => Log(1f + Exp(beta * x)) / beta;\n}",
        // Every vocabulary function at once.
        "[GatedActivation]\npublic static partial class Everything\n{\n    static float Forward(float gate, float linear) => Clamp(Min(gate, 1f), -1f, Max(linear, 0.5f)) + Sqrt(Abs(gate) + 1f) * Erf(gate) + Pow(Sigmoid(linear), 3) + (gate >= linear ? Tanh(gate) : -linear);\n}",
    };

    [Theory]
    [MemberData(nameof(ValidOperators))]
    public void A_valid_operator_generates_code_that_compiles_without_warnings(string body)
    {
        // The global-namespace case drops the namespace line: the generated files then have none either.
        string source = body.Contains("Softplus") ? "using MoeOpGen;\nusing static MoeOpGen.OpMath;\n\n" + body : Usings.Replace("using MoeOpGen;", "using System;\nusing MoeOpGen;") + body;

        var run = GeneratorHarness.Run(source);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(3, run.GeneratedSources.Count);
        Assert.Empty(run.CompilationProblems);
    }
}
