using TorchSharp;
using Xunit;

namespace MoeOpGen.Tests;

/// <summary>The build step in build/MoeOpGen.TorchSharpNativeFix.targets lets libtorch load on this host.</summary>
public class TorchSharpLoadsTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var x = torch.arange(4, dtype: torch.ScalarType.Float32);
        Assert.Equal(6f, x.sum().item<float>());
    }
}
