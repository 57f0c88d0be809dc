using MoeOpGen.Cuda;
using MoeOpGen.Ops;
using MoeOpGen.Tests.Golden;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// Rows as wide as Mixtral's experts (H = 14336): the backward kernel's block (a thread per 16-byte pack, 1792 packs)
/// is capped by what the kernel's registers allow, so threads take several packs of a row. Found by the benchmark:
/// with a bias the kernel uses more than 64 registers, so a block of 1024 threads failed to launch
/// (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES).
/// </summary>
[Trait("Category", "Gpu")]
public class WideRowCudaTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32)]
    public void BackwardWithWeightsBiasAndClampAtMixtralWidth(ScalarType dtype)
    {
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device (or TorchSharp without CUDA).");
        using var scope = NewDisposeScope();
        const long rows = 5, hidden = 14336;
        var generator = new Generator(71);
        var input = randn([rows, 2 * hidden], generator: generator).to(dtype);
        var grad = randn([rows, hidden], generator: generator).to(dtype);
        var weights = rand([rows, 1], generator: generator);
        var bias = (randn([2 * hidden], generator: generator) * 0.1).to(dtype);

        var cpu = SwiGlu.Backward(grad, input, weights, bias, clampValue: 7.0);
        var gpu = SwiGlu.Backward(grad.cuda(), input.cuda(), weights.cuda(), bias.cuda(), clampValue: 7.0);

        TensorAssert.Close(cpu.InputGrad, gpu.InputGrad.cpu(), "input gradient");
        TensorAssert.Close(cpu.WeightsGrad!, gpu.WeightsGrad!.cpu(), 1e-4, 1e-3 * hidden / 1024, "weights gradient (a sum over the row)");
        TensorAssert.Close(cpu.BiasGrad!, gpu.BiasGrad!.cpu(), "bias gradient (a sum over rows, in the dtype)");
    }
}
