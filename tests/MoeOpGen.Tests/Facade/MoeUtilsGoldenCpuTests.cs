using System.Linq;
using MoeOpGen.Tests.Golden;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>The golden cases through <c>MoeUtils</c> on the CPU (the body is <see cref="MoeUtilsGoldenTests"/>).</summary>
public sealed class MoeUtilsGoldenCpuTests : MoeUtilsGoldenTests
{
    protected override Device Device => CPU;

    /// <summary>A golden function that no test runs would otherwise drop out of the theories unnoticed.</summary>
    [Fact]
    public void Every_golden_function_is_run()
    {
        GoldenCases.SkipIfAbsent();
        var functions = GoldenCases.Names("").Select(n => n[..n.IndexOf('/')]).Distinct().ToArray();
        var unknown = functions.Where(f => !IsCovered(f)).ToArray();
        Assert.True(unknown.Length == 0, $"Golden functions that no test runs: {string.Join(", ", unknown)}.");
        Assert.Contains("weighted_bias_quick_geglu_impl", functions);
        Assert.Contains("unpermute_drop_and_pad", functions);
    }
}
