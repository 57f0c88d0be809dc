using MoeOpGen.Tests.Facade;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>The golden cases through <c>MoeUtils</c> on CUDA: the same body as the CPU suite
/// (<see cref="MoeUtilsGoldenTests"/>), with the inputs moved to the GPU; routing on both the non-fused path and the
/// fused CUDA kernels.</summary>
[Trait("Category", "Gpu")]
public sealed class MoeUtilsGoldenCudaTests : MoeUtilsGoldenTests
{
    protected override Device Device => CUDA;

    protected override void RequireDevice() => FusedRoutingCudaTests.RequireCuda();
}
