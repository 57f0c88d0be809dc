using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using MoeOpGen.Generator.Tests.Infrastructure;
using Xunit;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// Bodies far bigger than any activation: long sums, deep nesting, chains of locals that each read the previous one
/// twice (a tree of 2^n nodes once substituted). The generator must neither overflow its stack (which would take
/// the compiler down with it) nor take exponential time. Each runs on a thread with a 1 MiB stack, less than the
/// compiler's threads get, so a recursion that fits here fits there. (At that stack Roslyn itself gives out first
/// on some shapes: its attribute search overflows on a sum of ~1800 terms and its binder on ~1000 nested
/// parentheses, so the rejected bodies stay below those.)
/// </summary>
public sealed class StressBodyTests
{
    private const int StackBytes = 1 << 20;

    /// <summary>Bodies within the depth bound (256): they must generate.</summary>
    public static TheoryData<string, string> Generated => new()
    {
        { "sum of 250 terms", "=> " + string.Join(" + ", Enumerable.Range(0, 250).Select(i => $"x * {i % 7 + 1}f")) + ";" },
        { "Tanh nested 200 deep", "=> " + string.Concat(Enumerable.Repeat("Tanh(", 200)) + "x" + new string(')', 200) + ";" },
        { "40 locals each read twice", Chain(40, "Tanh(a{0} * a{0} {1} x)") },
        { "conditionals nested 120 deep", "=> " + string.Concat(Enumerable.Range(0, 120).Select(i => $"x > {i}f ? x * {i}f : ")) + "x;" },
    };

    /// <summary>Bodies beyond the bound, in syntax or once locals are substituted: MOG0007 inside the body, no crash.</summary>
    public static TheoryData<string, string> Rejected => new()
    {
        { "sum of 1000 terms", "=> " + string.Join(" + ", Enumerable.Range(0, 1000).Select(i => $"x * {i % 7 + 1}f")) + ";" },
        { "Tanh nested 400 deep", "=> " + string.Concat(Enumerable.Repeat("Tanh(", 400)) + "x" + new string(')', 400) + ";" },
        { "parentheses 500 deep", "=> " + new string('(', 500) + "x * 2f" + new string(')', 500) + ";" },
        { "300 locals in a chain", Chain(300, "Sigmoid(a{0}) + x") },
    };

    [Theory]
    [MemberData(nameof(Generated))]
    public void A_huge_body_within_the_depth_bound_generates(string name, string body)
    {
        var run = RunOnSmallStack(body, out var elapsed);
        Assert.True(run.GeneratorDiagnostics.IsEmpty, $"{name}: {string.Join("; ", run.GeneratorDiagnostics)}");
        Assert.Equal(3, run.GeneratedSources.Count);
        Assert.True(elapsed < TimeSpan.FromSeconds(20), $"{name} took {elapsed}");
    }

    [Theory]
    [MemberData(nameof(Rejected))]
    public void A_body_beyond_the_depth_bound_is_MOG0007_not_a_crash(string name, string body)
    {
        var run = RunOnSmallStack(body, out var elapsed);
        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("MOG0007", diagnostic.Id);
        Assert.Contains("deep", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(run.GeneratedSources);
        Assert.True(elapsed < TimeSpan.FromSeconds(20), $"{name} took {elapsed}");
    }

    private static GeneratorRun RunOnSmallStack(string body, out TimeSpan elapsed)
    {
        string source = $"using MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace Stress;\n\n[Activation]\npublic static partial class Big\n{{\n    static float Forward(float x)\n    {body}\n}}";
        GeneratorRun? run = null;
        Exception? failure = null;
        var clock = Stopwatch.StartNew();
        var thread = new Thread(() =>
        {
            try { run = GeneratorHarness.Run(source); }
            catch (Exception e) { failure = e; }
        }, StackBytes);
        thread.Start();
        thread.Join();
        elapsed = clock.Elapsed;
        Assert.Null(failure);
        return run!;
    }

    /// <summary><c>var a1 = f(a0); var a2 = f(a1); …</c> with <paramref name="step"/> as the format of f
    /// ({0}: the previous index, {1}: + or − alternately).</summary>
    private static string Chain(int length, string step)
    {
        var body = new StringBuilder("{\n        var a0 = Tanh(x);\n");
        for (int i = 1; i <= length; i++)
            body.Append($"        var a{i} = ").Append(string.Format(System.Globalization.CultureInfo.InvariantCulture, step, i - 1, i % 2 == 0 ? "+" : "-")).Append(";\n");
        return body.Append($"        return a{length};\n    }}").ToString();
    }
}
