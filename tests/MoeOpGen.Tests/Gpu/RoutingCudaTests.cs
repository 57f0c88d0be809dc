using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using MoeOpGen.Tests.Routing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>The non-fused path on CUDA agrees with the CPU (skipped without a GPU); the fused row map's CUDA builder
/// is checked by <see cref="FusedRowMapCudaTests"/>.</summary>
[Trait("Category", "Gpu")]
public class RoutingCudaTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Composite_routing_on_cuda_matches_the_cpu(bool dropAndPad)
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 257, experts: 16, k: 4, hidden: 96, seed: 41, ScalarType.BFloat16);
        long? numOutTokens = dropAndPad ? 900 : null;
        var cpu = TokenPermutation.Permute(tokens, map, probs, numOutTokens, dropAndPad: dropAndPad);
        var gpu = TokenPermutation.Permute(tokens.cuda(), map.cuda(), probs.cuda(), numOutTokens, dropAndPad: dropAndPad);
        TensorAssert.Equal(cpu.SortedIndices, gpu.SortedIndices.cpu(), "indices");
        TensorAssert.Equal(cpu.PermutedInput, gpu.PermutedInput.cpu(), "rows");
        TensorAssert.Equal(cpu.PermutedProbs!, gpu.PermutedProbs!.cpu(), "probs");
        var cpuOut = TokenPermutation.Unpermute(cpu.PermutedInput, cpu.SortedIndices, tokens.shape, probs, map, dropAndPad: dropAndPad);
        var gpuOut = TokenPermutation.Unpermute(gpu.PermutedInput, gpu.SortedIndices, tokens.shape, probs.cuda(), map.cuda(), dropAndPad: dropAndPad);
        TensorAssert.Close(cpuOut, gpuOut.cpu(), "unpermute");
    }
}
