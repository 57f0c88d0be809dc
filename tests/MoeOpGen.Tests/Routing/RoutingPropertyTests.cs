using System;
using System.Diagnostics;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// Property tests of the routing contract over 1,000 seeded random routings (<see cref="RoutingCase.Random"/>), each
/// checked on both paths against exact host predictions (<see cref="RoutingContract"/>). The CUDA suite runs the same
/// seeds on a GPU (Gpu/RoutingPropertyCudaTests), so CPU = CUDA as well. A failure names its seed; rerun one seed
/// with <see cref="RoutingProperties.CheckSeed"/>.
/// </summary>
public class RoutingPropertyTests(ITestOutputHelper output)
{
    [Theory, MemberData(nameof(RoutingProperties.Batches), MemberType = typeof(RoutingProperties))]
    public void Random_routings_keep_the_contract_on_the_cpu(int firstSeed, int count)
        => RoutingProperties.CheckSeeds(firstSeed, count, CPU, output);
}

/// <summary>The body shared by the CPU and CUDA property tests.</summary>
internal static class RoutingProperties
{
    public const int Seeds = 1000;
    public const int BatchSize = 100;

    /// <summary>(first seed, count) rows covering seeds 0 to 999, so each batch reports on its own.</summary>
    public static TheoryData<int, int> Batches()
    {
        var data = new TheoryData<int, int>();
        for (int first = 0; first < Seeds; first += BatchSize) data.Add(first, BatchSize);
        return data;
    }

    public static void CheckSeeds(int firstSeed, int count, Device device, ITestOutputHelper output)
    {
        var clock = Stopwatch.StartNew();
        for (int seed = firstSeed; seed < firstSeed + count; seed++)
            CheckSeed(seed, device);
        output.WriteLine($"seeds {firstSeed}..{firstSeed + count - 1} on {device.type}: {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>Checks one seed on both paths; a failure is rethrown with the seed and the case.</summary>
    public static void CheckSeed(int seed, Device device)
    {
        var c = RoutingCase.Random(seed);
        foreach (bool fused in new[] { false, true })
        {
            try
            {
                RoutingContract.Check(c, device, fused);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.SkipException)
            {
                throw new Xunit.Sdk.XunitException(
                    $"Routing property failed for seed {seed} ({c}, {(fused ? "fused" : "non-fused")}, {device.type}); " +
                    $"rerun it with RoutingProperties.CheckSeed({seed}, ...).{Environment.NewLine}{ex.Message}", ex);
            }
        }
    }
}
