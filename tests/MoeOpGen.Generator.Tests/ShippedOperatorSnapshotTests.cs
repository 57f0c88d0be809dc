using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests;

/// <summary>
/// Every generated file of every shipped operator (ops/Activations) is a committed snapshot, so any change of the
/// emitted code shows up in review as a diff; the CUDA module is also kept as a .cu file, readable as CUDA.
/// </summary>
public sealed class ShippedOperatorSnapshotTests
{
    private static readonly string[] GeneratedParts = ["Maths", "Cuda", "Api"];

    /// <summary>All shipped operators compiled together, as ops/ builds them.</summary>
    private static readonly GeneratorRun ShippedRun = GeneratorHarness.Run(
        Directory.GetFiles(RepositoryPaths.ShippedActivations, "*.cs").OrderBy(p => p, System.StringComparer.Ordinal)
            .Select(p => (p, File.ReadAllText(p))).ToArray());

    public static TheoryData<string> Operators { get; } =
        new(Directory.GetFiles(RepositoryPaths.ShippedActivations, "*.cs").Select(Path.GetFileNameWithoutExtension).Order().ToArray()!);

    [Fact]
    public void The_shipped_operators_generate_without_diagnostics_and_compile_without_warnings()
    {
        Assert.Empty(ShippedRun.GeneratorDiagnostics);
        Assert.Empty(ShippedRun.CompilationProblems);
        Assert.Equal(Operators.Count * GeneratedParts.Length, ShippedRun.GeneratedSources.Count);
    }

    [Theory]
    [MemberData(nameof(Operators))]
    public void Generated_files_match_their_snapshots(string name)
    {
        foreach (var part in GeneratedParts)
        {
            string hint = $"MoeOpGen.Ops.{name}.{part}.g.cs";
            Assert.True(ShippedRun.GeneratedSources.TryGetValue(hint, out var text), $"{hint} was not generated");
            Snapshot.Match(text!, $"{name}.{part}");
        }
    }

    [Theory]
    [MemberData(nameof(Operators))]
    public void The_CUDA_module_matches_its_snapshot(string name)
        => Snapshot.Match(CudaModuleText(ShippedRun.GeneratedSources[$"MoeOpGen.Ops.{name}.Cuda.g.cs"]), name, "cu");

    /// <summary>The value of the raw string literal passed to CudaSource: the CUDA module exactly as NVRTC receives it.</summary>
    internal static string CudaModuleText(string generatedCuda)
    {
        var literal = CSharpSyntaxTree.ParseText(generatedCuda, GeneratorHarness.ParseOptions).GetRoot()
            .DescendantNodes().OfType<LiteralExpressionSyntax>()
            .Single(l => l.Token.IsKind(SyntaxKind.MultiLineRawStringLiteralToken));
        return literal.Token.ValueText;
    }
}
