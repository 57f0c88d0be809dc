using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis.Text;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>A [Scalar] parameter of a fuzzed operator: its name, default value and the default's spelling.</summary>
internal sealed record FuzzScalar(string Name, double Default, string DefaultText);

/// <summary>
/// One random operator class: its source file, where its Forward body is, and either the fuzzer's own tree of the
/// maths (a valid body) or the span of the syntax the DSL must reject (an invalid body) with the diagnostic ids
/// that may report it.
/// </summary>
internal sealed record FuzzOperator(
    int Seed,
    string ClassName,
    bool Gated,
    IReadOnlyList<string> InputNames,
    IReadOnlyList<FuzzScalar> Scalars,
    string Source,
    TextSpan Body,
    FuzzExpr? Value,
    TextSpan? Mutation,
    IReadOnlyList<string> ExpectedIds,
    string MutationKind)
{
    /// <summary>The namespace of every fuzzed operator (the generated types are <c>Fuzz.&lt;ClassName&gt;</c>).</summary>
    public const string Namespace = "Fuzz";

    public string Path => ClassName + ".cs";

    public string FullName => Namespace + "." + ClassName;

    public bool IsValid => Value is not null;

    /// <summary>The fuzzer's fp64 value of Forward at the inputs (canonical order) and scalars, with its branch record.</summary>
    public double Evaluate(IReadOnlyList<double> inputs, IReadOnlyList<double> scalars, out List<bool> branches)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < InputNames.Count; i++) values[InputNames[i]] = inputs[i];
        for (int i = 0; i < Scalars.Count; i++) values[Scalars[i].Name] = scalars[i];
        var point = new FuzzPoint(values);
        double value = (Value ?? throw new InvalidOperationException("An invalid body has no value.")).Evaluate(point);
        branches = point.Branches;
        return value;
    }

    /// <summary>What a failure message shows: the seed, how to rerun it alone, and the whole source.</summary>
    public string Describe()
        => $"seed {Seed} ({(IsValid ? "valid" : "invalid: " + MutationKind)}; rerun alone with "
           + $"{FuzzSettings.SeedVariable}={Seed} {FuzzSettings.CountVariable}=1)\n{Source}"
           + (Mutation is { } m ? $"\nexpected {string.Join(" or ", ExpectedIds)} at [{m.Start}..{m.End}): '{Source.Substring(m.Start, m.Length)}'" : "");

    public IEnumerable<double> ScalarDefaults => Scalars.Select(s => s.Default);
}
