using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// A [Scalar]'s name appears unchanged in every generated file (it is a parameter of Apply, a field of the Maths
/// struct, a member of the CUDA scalars struct), so a name that would break one of them is MOG0011 on the name.
/// A local with such a name is fine: its temporary is renamed (the fuzzer's local-name pool covers that).
/// </summary>
public sealed class ScalarNameTests
{
    public static TheoryData<string> UnusableNames =>
    [
        "s",                                   // the CUDA maths functions' scalars parameter
        "OpMath", "CompositeMath", "Tensor",   // names the generated C# refers to
        "Function", "Maths", "Name", "Cuda", "ScalarValues", "ValueAndGradients",
        "expf", "sqrtf",                       // CUDA math functions the generated kernels call
        "auto", "signed", "template",          // C++ keywords
        "@float", "@class",                    // C# keywords written as verbatim identifiers
        "α", "mog_x", "__x", "_X",             // not portable or reserved in C++
    ];

    [Theory]
    [MemberData(nameof(UnusableNames))]
    public void A_scalar_name_the_generated_code_cannot_use_is_MOG0011_on_the_name(string name)
    {
        var source = MarkedSource.Parse($"using MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace Tests;\n\n[Activation]\npublic static partial class Named\n{{\n    static float Forward(float x, [Scalar] float [|{name}|] = 1f) => x * {name};\n}}");

        var diagnostic = Assert.Single(GeneratorHarness.Run(source.Text).GeneratorDiagnostics);

        Assert.Equal("MOG0011", diagnostic.Id);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
    }

    [Theory]
    [InlineData("t0"), InlineData("half"), InlineData("rows"), InlineData("threadIdx"), InlineData("options")]
    public void A_scalar_name_that_only_looks_like_generated_code_works(string name)
    {
        var run = GeneratorHarness.Run($"using MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace Tests;\n\n[Activation]\npublic static partial class Named\n{{\n    static float Forward(float x, [Scalar] float {name} = 1f) => Tanh(x * {name}) * {name};\n}}");

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationProblems);
    }
}
