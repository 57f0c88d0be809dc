using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// Which seeds the fuzz tests run. By default a fixed range, so every run checks the same operators; the
/// environment can pick one seed (to rerun a failure) or another range.
/// </summary>
internal static class FuzzSettings
{
    public const string SeedVariable = "MOEOPGEN_FUZZ_SEED";
    public const string CountVariable = "MOEOPGEN_FUZZ_COUNT";

    /// <summary>Operators per generator run and compilation: big batches amortise Roslyn's per-compilation cost.</summary>
    public const int BatchSize = 200;

    private const int DefaultFirstSeed = 7_000_000;
    private const int DefaultValidCount = 3_000;
    private const int DefaultInvalidCount = 7_000;

    public static int FirstSeed => Read(SeedVariable) ?? DefaultFirstSeed;

    public static int ValidCount => Read(CountVariable) ?? DefaultValidCount;

    public static int InvalidCount => Read(CountVariable) ?? DefaultInvalidCount;

    /// <summary>The seeds of batch <paramref name="batch"/> out of <paramref name="count"/> operators.</summary>
    public static IEnumerable<int> Seeds(int batch, int count)
        => Enumerable.Range(batch * BatchSize, Math.Min(BatchSize, count - batch * BatchSize)).Select(i => FirstSeed + i);

    public static int Batches(int count) => (count + BatchSize - 1) / BatchSize;

    private static int? Read(string variable)
        => Environment.GetEnvironmentVariable(variable) is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : null;
}
