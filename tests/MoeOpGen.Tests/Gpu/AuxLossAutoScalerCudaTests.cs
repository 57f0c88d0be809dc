using System;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Routing;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>The golden aux-loss case on CUDA (body: <see cref="AuxLossAutoScalerTests.AssertGoldenCase"/>). It sets the
/// process-wide loss scale, so it runs in the routing state collection, alone.</summary>
[Trait("Category", "Gpu")]
[Collection(nameof(RoutingStaticStateCollection))]
public sealed class AuxLossAutoScalerCudaTests : IDisposable
{
    public AuxLossAutoScalerCudaTests() => MoEAuxLossAutoScaler.ResetLossScale();

    public void Dispose() => MoEAuxLossAutoScaler.ResetLossScale();

    [Fact]
    public void Matches_the_reference_golden_case_on_cuda()
    {
        FusedRoutingCudaTests.RequireCuda();
        AuxLossAutoScalerTests.AssertGoldenCase(CUDA);
    }
}
