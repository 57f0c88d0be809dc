using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests;

/// <summary>
/// The pipeline caches on the equatable <c>OperatorModel</c>: edits that do not change an operator's maths must
/// leave its "Model*" step Cached or Unchanged (so nothing is re-emitted); a maths edit must make it Modified.
/// </summary>
public sealed class IncrementalityTests
{
    private const string SwishPath = "Swish.cs";
    private const string Swish = """
        using MoeOpGen;
        using static MoeOpGen.OpMath;

        namespace Tests;

        [GatedActivation]
        public static partial class Swish
        {
            static float Forward(float gate, float linear) => gate * Sigmoid(gate) * linear;
        }

        public static class Unrelated
        {
            public static int Answer() => 42;
        }
        """;

    private const string CubePath = "Cube.cs";
    private const string Cube = """
        using MoeOpGen;

        namespace Tests;

        [Activation]
        public static partial class Cube
        {
            static float Forward(float x) => x * x * x;
        }
        """;

    private static GeneratorRun FirstRun() => GeneratorHarness.Run((SwishPath, Swish), (CubePath, Cube));

    private static CSharpCompilation ReplaceFile(CSharpCompilation compilation, string path, string text)
    {
        var old = compilation.SyntaxTrees.Single(t => t.FilePath == path);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path));
    }

    private static IncrementalStepRunReason[] StepReasons(GeneratorRun run, string trackingName)
        => run.Steps(trackingName).SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    private static void AssertNotRegenerated(GeneratorRun run, string trackingName)
    {
        var reasons = StepReasons(run, trackingName);
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{trackingName} output was {r}"));
    }

    [Fact]
    public void Adding_an_unrelated_file_regenerates_nothing()
    {
        var first = FirstRun();
        var edited = first.Input.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Tests; public static class Other { public static int One() => 1; }", GeneratorHarness.ParseOptions, "Other.cs", cancellationToken: TestContext.Current.CancellationToken));

        var second = GeneratorHarness.RunAgain(first.Driver, edited);

        AssertNotRegenerated(second, "ModelGated");
        AssertNotRegenerated(second, "ModelUnary");
        Assert.Equal(first.GeneratedSources, second.GeneratedSources);
    }

    [Fact]
    public void Editing_an_unrelated_method_in_the_operator_file_regenerates_nothing()
    {
        var first = FirstRun();
        var edited = ReplaceFile(first.Input, SwishPath, Swish.Replace("=> 42;", "=> 41 + 1;"));

        var second = GeneratorHarness.RunAgain(first.Driver, edited);

        // The class's file changed, so the parse step ran again, but its result equals the cached one.
        Assert.Equal([IncrementalStepRunReason.Unchanged], StepReasons(second, "ParseGated"));
        AssertNotRegenerated(second, "ModelGated");
        AssertNotRegenerated(second, "ModelUnary");
    }

    [Fact]
    public void Editing_the_maths_regenerates_that_operator_only()
    {
        var first = FirstRun();
        var edited = ReplaceFile(first.Input, SwishPath, Swish.Replace("gate * Sigmoid(gate) * linear", "gate * Sigmoid(1.702f * gate) * linear"));

        var second = GeneratorHarness.RunAgain(first.Driver, edited);

        Assert.Equal([IncrementalStepRunReason.Modified], StepReasons(second, "ModelGated"));
        AssertNotRegenerated(second, "ModelUnary");
        Assert.Contains("1.702", second.GeneratedSources["Tests.Swish.Maths.g.cs"]);
        Assert.Equal(first.GeneratedSources["Tests.Cube.Maths.g.cs"], second.GeneratedSources["Tests.Cube.Maths.g.cs"]);
    }
}
