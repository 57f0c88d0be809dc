using System;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

public class CudaArchitectureTests
{
    private static readonly int[] Nvrtc118 = [35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90];

    [Fact]
    public void SupportedDeviceGetsACubinForItsOwnArchitecture()
    {
        Assert.Equal("sm_90", CudaArchitecture.SelectTarget(90, Nvrtc118));
        Assert.Equal("sm_80", CudaArchitecture.SelectTarget(80, Nvrtc118));
    }

    [Fact]
    public void NewerDeviceGetsPtxOfTheHighestArchitectureBelowIt()
    {
        Assert.Equal("compute_90", CudaArchitecture.SelectTarget(100, Nvrtc118));
        Assert.Equal("compute_80", CudaArchitecture.SelectTarget(81, Nvrtc118));
    }

    [Fact]
    public void UnknownSupportListAssumesTheDevicesArchitecture() =>
        Assert.Equal("sm_120", CudaArchitecture.SelectTarget(120, []));

    [Fact]
    public void DeviceOlderThanEverySupportedArchitectureIsAnError()
    {
        var error = Assert.Throws<CudaException>(() => CudaArchitecture.SelectTarget(30, [50, 60]));
        Assert.Contains("3.0", error.Message);
    }

    [Theory]
    [InlineData("sm_80", KernelImageKind.Cubin)]
    [InlineData("sm_90a", KernelImageKind.Cubin)]
    [InlineData("compute_90", KernelImageKind.Ptx)]
    [InlineData("sm_100", KernelImageKind.Cubin)]
    [InlineData("sm_100f", KernelImageKind.Cubin)]
    [InlineData("compute_120a", KernelImageKind.Ptx)]
    public void ArchitectureNamesGiveTheImageKind(string arch, KernelImageKind kind) =>
        Assert.Equal(kind, CudaArchitecture.KindOf(arch, "arch"));

    [Theory]
    [InlineData("sm80")]
    [InlineData("80")]
    [InlineData("SM_80")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("sm_8")]
    [InlineData("sm_1000")]
    [InlineData("sm_90b")]
    [InlineData("sm_90aa")]
    [InlineData("sm_a")]
    [InlineData("sm_")]
    [InlineData("compute_9x")]
    [InlineData("ptx_90")]
    [InlineData(" sm_90")]
    [InlineData("sm_90\n")]
    [InlineData("sm_٩٠")]   // Arabic-Indic digits: not ASCII
    public void MalformedArchitectureNamesAreRejected(string? arch) =>
        Assert.Equal("arch", Assert.Throws<ArgumentException>(() => CudaArchitecture.KindOf(arch!, "arch")).ParamName);
}
