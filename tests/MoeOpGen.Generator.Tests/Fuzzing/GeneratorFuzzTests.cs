using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// Grammar-based fuzzing of the generator (issue 7): thousands of random <c>Forward</c> bodies from the DSL's
/// vocabulary, 200 operator classes per compilation. A valid body must generate code that compiles, whose
/// <c>ForwardF64</c> is the body's maths and whose <c>BackwardF64</c> matches finite differences; an invalid body
/// must get an MOG diagnostic on the offending syntax, inside the body, and no code. Neither may make the generator
/// throw (CS8785) or report an internal error (MOG0099). Failures print the seed and the source; rerun one with
/// <c>MOEOPGEN_FUZZ_SEED=&lt;seed&gt; MOEOPGEN_FUZZ_COUNT=1</c>.
/// </summary>
public sealed class GeneratorFuzzTests(ITestOutputHelper output)
{
    /// <summary>At most this many failures are printed per batch (each with its whole source); MOEOPGEN_FUZZ_SHOW sets another number.</summary>
    private static int FailuresShown => int.TryParse(Environment.GetEnvironmentVariable("MOEOPGEN_FUZZ_SHOW"), out int n) ? n : 5;

    /// <summary>Operators per batch whose CUDA module NVRTC compiles (where NVRTC is installed, as on CI).</summary>
    private const int CudaCompilesPerBatch = 10;

    public static TheoryData<int> ValidBatches() => new(Enumerable.Range(0, FuzzSettings.Batches(FuzzSettings.ValidCount)));

    public static TheoryData<int> InvalidBatches() => new(Enumerable.Range(0, FuzzSettings.Batches(FuzzSettings.InvalidCount)));

    [Theory]
    [MemberData(nameof(ValidBatches))]
    public void Valid_bodies_generate_compiling_code_whose_backward_matches_finite_differences(int batch)
    {
        var clock = Stopwatch.StartNew();
        var ops = FuzzSettings.Seeds(batch, FuzzSettings.ValidCount).Select(OperatorGrammar.Valid).ToList();
        var failures = new List<string>();
        var run = RunGenerator(ops, failures);
        if (run is null) { Fail(failures); return; }
        long generatedAt = clock.ElapsedMilliseconds;

        var broken = new HashSet<FuzzOperator>();
        foreach (var op in ops)
        {
            var diagnostics = DiagnosticsOf(run, op);
            if (diagnostics.Count > 0)
            {
                failures.Add($"{op.Describe()}\nA valid body got diagnostics:\n  {string.Join("\n  ", diagnostics)}");
                broken.Add(op);
            }
            else if (GeneratedFiles(run, op).Count != 3)
            {
                failures.Add($"{op.Describe()}\nExpected 3 generated files, got: {string.Join(", ", GeneratedFiles(run, op))}");
                broken.Add(op);
            }
        }

        // One emit gives both the diagnostics and the image. Errors and warnings in the generated code would fail a
        // TreatWarningsAsErrors build; errors in the fuzzer's own source would be a fuzzer bug. Either way the
        // operator is reported, and when the emit failed the batch is emitted again without it.
        var compilation = WithoutCudaText(run.Output, ops, broken, failures);
        compilation = compilation.RemoveSyntaxTrees(compilation.SyntaxTrees.Where(t => OwnerOf(ops, t.FilePath) is { } o && broken.Contains(o)));
        var image = new MemoryStream();
        var emitted = compilation.Emit(image, cancellationToken: TestContext.Current.CancellationToken);
        foreach (var group in emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.SourceTree is not null)
                     .GroupBy(d => OwnerOf(ops, d.Location.SourceTree!.FilePath)))
        {
            if (group.Key is null || broken.Contains(group.Key)) continue;
            bool generated = group.Any(d => d.Location.SourceTree!.FilePath.EndsWith(".g.cs", StringComparison.Ordinal));
            var problems = group.Where(d => d.Severity == DiagnosticSeverity.Error || d.Location.SourceTree!.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)).ToList();
            if (problems.Count == 0) continue;                    // warnings in the fuzzer's source (unused locals) are fine
            failures.Add($"{group.Key.Describe()}\n{(generated ? "The generated code" : "The fuzzed source (fuzzer bug)")} does not compile cleanly:\n  "
                + string.Join("\n  ", problems.Take(5).Select(d => $"{Path.GetFileName(d.Location.SourceTree!.FilePath)}: {d}")));
            broken.Add(group.Key);
        }
        if (!emitted.Success)
        {
            image = new MemoryStream();
            compilation = compilation.RemoveSyntaxTrees(compilation.SyntaxTrees.Where(t => OwnerOf(ops, t.FilePath) is { } o && broken.Contains(o)));
            var again = compilation.Emit(image, cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(again.Success, "The batch does not compile without the reported operators:\n" + string.Join("\n", again.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        }

        long emittedAt = clock.ElapsedMilliseconds;
        // NVRTC takes the operators most likely to trip it: those whose locals are named like C++ keywords or CUDA
        // names (a generator that let such a name through would fail here), then the first ones.
        int nvrtc = CompileCuda(run, ops.Where(o => !broken.Contains(o)).OrderByDescending(o => OperatorGrammar.CudaSensitiveNames.Count(n => o.Source.Contains(" " + n + " = ", StringComparison.Ordinal)))
            .Take(CudaCompilesPerBatch), failures);
        int checkedOps = 0, points = 0;
        using (var generated = new GeneratedAssembly(image, "fuzz" + batch))
        {
            foreach (var op in ops.Where(o => !broken.Contains(o)))
            {
                var check = new FiniteDifferenceCheck(op,
                    generated.StaticMethod(op.FullName, "ForwardF64", typeof(double)),
                    generated.StaticMethod(op.FullName, "BackwardF64", typeof(double)));
                if (check.Run(new Random(op.Seed)) is { } failure) failures.Add($"{op.Describe()}\n{failure}");
                if (check.CheckedPoints > 0) checkedOps++;
                points += check.CheckedPoints;
            }
        }

        output.WriteLine($"batch {batch}: {ops.Count} valid operators (seeds {ops[0].Seed}..{ops[^1].Seed}), {checkedOps} checked at {points} points "
            + $"away from kinks, {nvrtc} CUDA modules compiled by NVRTC, {failures.Count} failures, {clock.ElapsedMilliseconds} ms (generator {generatedAt}, emit {emittedAt - generatedAt})");
        Fail(failures);
        // A fuzzer that skipped nearly every point would prove nothing.
        Assert.True(checkedOps >= ops.Count * 0.8, $"Only {checkedOps} of {ops.Count} operators had a point away from kinks and overflow.");
    }

    [Theory]
    [MemberData(nameof(InvalidBatches))]
    public void Invalid_bodies_get_an_MOG_diagnostic_on_the_offending_syntax_inside_the_body(int batch)
    {
        var clock = Stopwatch.StartNew();
        var ops = FuzzSettings.Seeds(batch, FuzzSettings.InvalidCount).Select(OperatorGrammar.Invalid).ToList();
        var failures = new List<string>();
        var run = RunGenerator(ops, failures);
        if (run is null) { Fail(failures); return; }

        foreach (var op in ops)
        {
            var diagnostics = DiagnosticsOf(run, op);
            string? problem =
                diagnostics.Count == 0 ? "No diagnostic."
                : diagnostics.FirstOrDefault(d => !op.Body.Contains(d.Location.SourceSpan)) is { } outside
                    ? $"A diagnostic outside the body [{op.Body.Start}..{op.Body.End}): {outside}"
                : !diagnostics.Any(d => op.ExpectedIds.Contains(d.Id) && d.Location.SourceSpan.OverlapsWith(op.Mutation!.Value)
                                        || op.ExpectedIds.Contains(d.Id) && op.Mutation!.Value.Contains(d.Location.SourceSpan))
                    ? "No expected diagnostic on the marked syntax."
                : GeneratedFiles(run, op).Count > 0 ? "Code was generated for an operator with an error."
                : null;
            if (problem is not null)
                failures.Add($"{op.Describe()}\n{problem}\nGot:\n  {string.Join("\n  ", diagnostics.Select(d => $"{d} '{Text(op, d)}'"))}");
        }

        var kinds = ops.GroupBy(o => o.MutationKind).Count();
        output.WriteLine($"batch {batch}: {ops.Count} invalid operators (seeds {ops[0].Seed}..{ops[^1].Seed}) of {kinds} kinds, "
            + $"{failures.Count} failures, {clock.ElapsedMilliseconds} ms");
        Fail(failures);
    }

    [Fact]
    public void The_same_seed_gives_the_same_operator()
    {
        Assert.Equal(OperatorGrammar.Valid(12345).Source, OperatorGrammar.Valid(12345).Source);
        Assert.Equal(OperatorGrammar.Invalid(12345).Source, OperatorGrammar.Invalid(12345).Source);
        Assert.NotEqual(OperatorGrammar.Valid(12345).Source, OperatorGrammar.Valid(12346).Source);
    }

    /// <summary>
    /// Runs the generator over the batch. When it throws (CS8785: it would take every operator's output with it),
    /// each operator is run alone to name the culprits. Generator-wide problems (MOG0099, a diagnostic without a
    /// file) are failures too. Null when nothing usable came out.
    /// </summary>
    private static GeneratorRun? RunGenerator(IReadOnlyList<FuzzOperator> ops, List<string> failures)
    {
        GeneratorRun run;
        try
        {
            run = GeneratorHarness.Run(ops.Select(o => (o.Path, o.Source)).ToArray());
        }
        catch (InvalidOperationException e) when (e.InnerException is not null)
        {
            foreach (var op in ops)
            {
                try
                {
                    GeneratorHarness.Run((op.Path, op.Source));
                }
                catch (InvalidOperationException alone) when (alone.InnerException is not null)
                {
                    failures.Add($"{op.Describe()}\nThe generator threw (CS8785): {alone.InnerException}");
                }
            }
            if (failures.Count == 0) failures.Add("The generator threw on the batch but on no operator alone: " + e.InnerException);
            return null;
        }
        // MOEOPGEN_FUZZ_DUMP=<folder> writes every input and generated file there, to read a failure's generated code.
        if (Environment.GetEnvironmentVariable("MOEOPGEN_FUZZ_DUMP") is { Length: > 0 } dump)
        {
            Directory.CreateDirectory(dump);
            foreach (var op in ops) File.WriteAllText(Path.Combine(dump, op.Path), op.Source);
            foreach (var (hint, text) in run.GeneratedSources) File.WriteAllText(Path.Combine(dump, hint), text);
        }
        foreach (var d in run.GeneratorDiagnostics.Where(d => d.Id == "MOG0099" || !d.Id.StartsWith("MOG", StringComparison.Ordinal) || FileOf(d) is null))
            failures.Add((OwnerOf(ops, FileOf(d))?.Describe() ?? "(no operator)") + "\nGenerator failure: " + d);
        return run;
    }

    /// <summary>
    /// NVRTC compiles the CUDA module of the first <paramref name="count"/> operators of the batch, without any
    /// -DMOG_KERNEL_ flag: that parses the preamble and templates and compiles the operator's device functions (the
    /// part made from the user's body: names, literals, the formula comment), but instantiates no kernel, so it takes
    /// a fraction of a second where all 99 entry points would take tens.
    /// </summary>
    private static int CompileCuda(GeneratorRun run, IEnumerable<FuzzOperator> ops, List<string> failures)
    {
        if (!Cuda.NvrtcCompiler.IsAvailable) return 0;
        int compiled = 0;
        foreach (var op in ops)
        {
            compiled++;
            var tree = CSharpSyntaxTree.ParseText(run.GeneratedSources[op.FullName + ".Cuda.g.cs"]);
            string code = tree.GetRoot().DescendantTokens().Single(t => t.IsKind(SyntaxKind.MultiLineRawStringLiteralToken)).ValueText;
            try
            {
                Cuda.NvrtcCompiler.Compile(code, op.ClassName + ".cu", "compute_80", Cuda.NvrtcCompiler.DefaultOptions);
            }
            catch (Cuda.CudaCompileException e)
            {
                failures.Add($"{op.Describe()}\nNVRTC rejects the generated CUDA module:\n{e.Message}");
            }
        }
        return compiled;
    }

    /// <summary>
    /// The CUDA module is a raw string of 10–65 KB per operator; compiling 200 of them costs more than the rest of the
    /// batch. Its C# is checked in two parts instead: each Cuda.g.cs must parse without errors (a body's text that
    /// ended the raw string early would show here), and then the string's content is replaced by "" so the
    /// emit still binds the surrounding C# (attribute, property, constructor call) cheaply.
    /// </summary>
    private static Compilation WithoutCudaText(Compilation output, IReadOnlyList<FuzzOperator> ops, HashSet<FuzzOperator> broken, List<string> failures)
    {
        var cudaTrees = output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".Cuda.g.cs", StringComparison.Ordinal)).ToList();
        var stubs = new List<SyntaxTree>();
        foreach (var tree in cudaTrees)
        {
            var owner = OwnerOf(ops, tree.FilePath);
            var errors = tree.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            if (errors.Count > 0)
            {
                if (owner is not null && broken.Add(owner))
                    failures.Add($"{owner.Describe()}\nThe generated Cuda.g.cs does not parse:\n  " + string.Join("\n  ", errors.Take(3)));
                continue;
            }
            var root = tree.GetRoot();
            var literals = root.DescendantNodes().OfType<LiteralExpressionSyntax>().Where(l => l.Token.IsKind(SyntaxKind.MultiLineRawStringLiteralToken));
            var stubbed = root.ReplaceNodes(literals, (_, _) => SyntaxFactory.LiteralExpression(SyntaxKind.StringLiteralExpression, SyntaxFactory.Literal("// checked apart")));
            stubs.Add(tree.WithRootAndOptions(stubbed, tree.Options));
        }
        return output.RemoveSyntaxTrees(cudaTrees).AddSyntaxTrees(stubs);
    }

    private static List<Diagnostic> DiagnosticsOf(GeneratorRun run, FuzzOperator op)
        => run.GeneratorDiagnostics.Where(d => FileOf(d) == op.Path).ToList();

    /// <summary>The file of a generator diagnostic. The generator keeps locations as data (no syntax tree), so they
    /// come back as file locations: <see cref="Location.SourceTree"/> is null but the path and span are set.</summary>
    private static string? FileOf(Diagnostic d) => d.Location.GetLineSpan() is { IsValid: true } span ? span.Path : null;

    private static List<string> GeneratedFiles(GeneratorRun run, FuzzOperator op)
        => run.GeneratedSources.Keys.Where(k => k.StartsWith(op.FullName + ".", StringComparison.Ordinal)).ToList();

    /// <summary>The operator a source file belongs to: its own file, or a generated file named after it.</summary>
    private static FuzzOperator? OwnerOf(IReadOnlyList<FuzzOperator> ops, string? path)
    {
        if (path is null) return null;
        string file = Path.GetFileName(path);
        return ops.FirstOrDefault(o => file == o.Path || file.StartsWith(o.FullName + ".", StringComparison.Ordinal));
    }

    private static string Text(FuzzOperator op, Diagnostic d)
        => d.Location.SourceSpan.End <= op.Source.Length ? op.Source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length) : "";

    private static void Fail(List<string> failures)
    {
        if (failures.Count == 0) return;
        var message = new StringBuilder($"{failures.Count} fuzzed operators failed. The first {Math.Min(failures.Count, FailuresShown)}:\n");
        foreach (var f in failures.Take(FailuresShown)) message.AppendLine("----").AppendLine(f);
        Assert.Fail(message.ToString());
    }
}
