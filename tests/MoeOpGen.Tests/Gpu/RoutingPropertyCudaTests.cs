using MoeOpGen.Tests.Routing;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// The 1,000 seeded random routings of <see cref="RoutingPropertyTests"/> on CUDA, both paths. The expectations are
/// exact and the CPU suite meets the same ones, so passing here means CPU = CUDA bit for bit, for every seed.
/// </summary>
[Trait("Category", "Gpu")]
public class RoutingPropertyCudaTests(ITestOutputHelper output)
{
    [Theory, MemberData(nameof(RoutingProperties.Batches), MemberType = typeof(RoutingProperties))]
    public void Random_routings_keep_the_contract_on_cuda(int firstSeed, int count)
    {
        FusedRoutingCudaTests.RequireCuda();
        RoutingProperties.CheckSeeds(firstSeed, count, CUDA, output);
    }
}
