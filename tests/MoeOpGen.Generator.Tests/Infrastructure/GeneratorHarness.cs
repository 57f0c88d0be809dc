using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MoeOpGen.Generator.Tests.Infrastructure;

/// <summary>What one generator run produced.</summary>
/// <param name="Driver">The driver after the run: run it again on an edited compilation to test incrementality.</param>
/// <param name="Input">The compilation the generator saw.</param>
/// <param name="Output">The input plus the generated trees: what the user's build compiles.</param>
/// <param name="GeneratedSources">Hint name → generated text.</param>
/// <param name="GeneratorDiagnostics">What the generator reported (the MOG ids).</param>
internal sealed record GeneratorRun(
    GeneratorDriver Driver,
    CSharpCompilation Input,
    Compilation Output,
    IReadOnlyDictionary<string, string> GeneratedSources,
    ImmutableArray<Diagnostic> GeneratorDiagnostics)
{
    /// <summary>Errors and warnings of the output compilation (what a TreatWarningsAsErrors build would reject).</summary>
    public IReadOnlyList<Diagnostic> CompilationProblems
        => Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();

    /// <summary>The step outputs of the last run, by tracking name (e.g. "ModelGated").</summary>
    public ImmutableArray<IncrementalGeneratorRunStep> Steps(string trackingName)
        => Driver.GetRunResult().Results.Single().TrackedSteps.TryGetValue(trackingName, out var steps) ? steps : ImmutableArray<IncrementalGeneratorRunStep>.Empty;
}

/// <summary>
/// Runs <see cref="OperatorGenerator"/> in memory the way the SDK does: a C# compilation with the runtime, TorchSharp
/// and the platform assemblies as references, a <see cref="CSharpGeneratorDriver"/> that tracks incremental steps.
/// </summary>
internal static class GeneratorHarness
{
    /// <summary>The framework (trusted platform assemblies), MoeOpGen.Runtime and TorchSharp: what an operator project sees.</summary>
    public static IReadOnlyList<MetadataReference> References { get; } = LoadReferences();

    /// <summary>The options of the repository's builds: latest C#, XML docs diagnosed (CS1591 is on in ops/).</summary>
    public static CSharpParseOptions ParseOptions { get; } =
        new(LanguageVersion.Preview, DocumentationMode.Diagnose);

    public static CSharpCompilation CreateCompilation(params (string Path, string Text)[] sources)
        => CSharpCompilation.Create(
            "OperatorUnderTest",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>Runs the generator on <paramref name="sources"/> (file path, text).</summary>
    public static GeneratorRun Run(params (string Path, string Text)[] sources) => Run(CreateCompilation(sources));

    /// <summary>Runs the generator on one source file.</summary>
    public static GeneratorRun Run(string source) => Run(("Operator.cs", source));

    public static GeneratorRun Run(CSharpCompilation compilation)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new OperatorGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        return RunAgain(driver, compilation);
    }

    /// <summary>Runs an existing driver (with its cache) on a new compilation.</summary>
    public static GeneratorRun RunAgain(GeneratorDriver driver, CSharpCompilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var result = driver.GetRunResult().Results.Single();
        if (result.Exception is not null) throw new InvalidOperationException("The generator threw.", result.Exception);
        var sources = result.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
        return new GeneratorRun(driver, compilation, output, sources, diagnostics);
    }

    private static IReadOnlyList<MetadataReference> LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Append(typeof(OpMath).Assembly.Location)
            .Append(typeof(TorchSharp.torch).Assembly.Location)
            .Distinct(StringComparer.Ordinal);
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    }
}
