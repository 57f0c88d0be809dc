using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using MoeOpGen.Tests.Routing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>The non-fused path and the row-map builder on CUDA agree with the CPU (skipped without a GPU).</summary>
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_tensor_op_row_map_builder_on_cuda_matches_the_cpu_builder(bool dropAndPad)
    {
        FusedRoutingCudaTests.RequireCuda();
        using var scope = NewDisposeScope();
        // 1000 × 64: the flattened scan spans several CUB tiles; 8192 × 32 is the GPT-OSS shape.
        foreach (var (tokens, experts, k) in new[] { (1000L, 64L, 8), (8192L, 32L, 4), (3L, 1L, 1) })
        {
            var (_, map, _) = RoutingTestData.TopK(tokens: tokens, experts: experts, k: k, hidden: 1, seed: 42);
            long? capacity = dropAndPad ? tokens * k / experts : null;
            var (cpuMap, rows) = FusedRowMap.BuildOnCpu(map, capacity);
            var (gpuMap, routedPerExpert) = FusedRowMap.BuildWithTensorOps(map.cuda(), capacity);
            TensorAssert.Equal(cpuMap, gpuMap.cpu(), $"row map T={tokens} E={experts}");
            if (!dropAndPad) Assert.Equal(rows, routedPerExpert.sum().item<long>());
        }
    }
}
