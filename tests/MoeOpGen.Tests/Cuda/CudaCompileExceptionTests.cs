using System.Linq;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

public class CudaCompileExceptionTests
{
    [Fact]
    public void MessageHasTheLogTheOptionsAndTheNumberedSource()
    {
        var source = string.Join("\n", Enumerable.Range(1, 12).Select(i => $"// line {i}")) + "\nint broken(";
        var error = new CudaCompileException("geglu", source, ["-std=c++17", "--gpu-architecture=sm_90"],
                                             "geglu(13): error: expected a \")\"", 6, "NVRTC_ERROR_COMPILATION");

        Assert.Contains("geglu(13): error: expected a \")\"", error.Message);
        Assert.Contains("-std=c++17 --gpu-architecture=sm_90", error.Message);
        Assert.Contains("NVRTC_ERROR_COMPILATION", error.Message);
        // Numbers are padded to a common width so the source stays aligned.
        Assert.Contains(" 1 | // line 1\n", error.Message);
        Assert.Contains("13 | int broken(\n", error.Message);
        Assert.Equal("geglu", error.ModuleName);
        Assert.Equal(source, error.Source);
    }

    [Fact]
    public void NumberLinesHandlesWindowsLineEndings() =>
        Assert.Equal("1 | a\n2 | b\n", CudaCompileException.NumberLines("a\r\nb"));
}
