using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Engines;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using MoeOpGen.Tests.Routing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// The fused CUDA routing kernels (<see cref="FusedRoutingCudaSource"/>) through <see cref="TokenPermutation"/>:
/// fused CUDA = non-fused CUDA = CPU, forward and backward, for every dtype, the 16-byte and the scalar kernel
/// variants, dropless and drop-and-pad; bit-identical to the fused CPU path on realistic data; deterministic; and the
/// edge cases (no tokens, empty experts, top-k = E, many experts, zero capacity, unaligned views).
/// </summary>
[Trait("Category", "Gpu")]
public class FusedRoutingCudaTests
{
    public static TheoryData<ScalarType, long, bool> Matrix()
    {
        var data = new TheoryData<ScalarType, long, bool>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16 })
            foreach (long hidden in new[] { 64L, 13L })   // 16-byte kernels (w16, _v16) and narrow ones (w2/w4/w8, scalar)
                foreach (bool dropAndPad in new[] { false, true })
                    data.Add(dtype, hidden, dropAndPad);
        return data;
    }

    /// <summary>Exact expectations (<see cref="RoutingContract"/>): the same check passes on the CPU in the routing
    /// suite, so passing here means fused CUDA = non-fused CUDA = CPU bit for bit, gradients included.</summary>
    [Theory, MemberData(nameof(Matrix))]
    public void Fused_and_non_fused_cuda_routing_keep_the_exact_contract(ScalarType dtype, long hidden, bool dropAndPad)
    {
        RequireCuda();
        // 300 tokens × top-3 of 8 experts ≈ 112 per expert; capacity 120 overflows some experts and pads others, and
        // 967 is not a multiple of 8.
        var c = RoutingCase.TopK(tokens: 300, experts: 8, k: 3, hidden, dtype, numOutTokens: dropAndPad ? 967 : null, dropAndPad, seed: 61);
        RoutingContract.Check(c, CUDA, fused: true);
        RoutingContract.Check(c, CUDA, fused: false);
    }

    /// <summary>On normal random data (real rounding): the fused CUDA kernels sum in the same order as the fused CPU
    /// loops and round once, so rows, sums and token gradients are bit-identical to them; the probs' gradient is a dot
    /// product reduced in another order, so it agrees to rounding. The non-fused path agrees to the dtype's tolerance.</summary>
    [Theory, MemberData(nameof(Matrix))]
    public void Fused_cuda_routing_is_bit_identical_to_the_fused_cpu_path(ScalarType dtype, long hidden, bool dropAndPad)
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 300, experts: 40, k: 6, hidden, seed: 62, dtype);
        long? numOutTokens = dropAndPad ? 40 * 45 + 7 : null;   // capacity 45, about the mean load: under and over
        var cpu = Run(tokens, map, probs, numOutTokens, dropAndPad, fused: true, CPU);
        var gpu = Run(tokens, map, probs, numOutTokens, dropAndPad, fused: true, CUDA);
        var gpuComposite = Run(tokens, map, probs, numOutTokens, dropAndPad, fused: false, CUDA);

        TensorAssert.Equal(cpu.RowMap, gpu.RowMap, "row map");
        AssertMatchesFusedCpu(cpu, gpu, hidden);

        TensorAssert.Equal(gpuComposite.Permuted, gpu.Permuted, "non-fused CUDA rows");
        TensorAssert.Equal(gpuComposite.PermutedProbs, gpu.PermutedProbs, "non-fused CUDA probs");
        TensorAssert.Close(gpuComposite.Sum, gpu.Sum, "non-fused CUDA unpermute without probs");
        TensorAssert.Close(gpuComposite.Weighted, gpu.Weighted, "non-fused CUDA unpermute with probs");
        TensorAssert.Equal(gpuComposite.RowsGrad, gpu.RowsGrad, "non-fused CUDA rows grad (p · g rounded once on both)");
        TensorAssert.Close(gpuComposite.UnpermuteProbsGrad, gpu.UnpermuteProbsGrad, 1e-5, 1e-5 * hidden, "non-fused CUDA probs grad");
    }

    /// <summary>Rows of several warp-task segments (the GPT-OSS width: 360 bf16 packs, 12 segments, the last 8 wide),
    /// more copies per token than one load chunk (top-9: chunks of 4, 4, 1), and a dot kernel block that splits the
    /// row into two passes: still bit-identical to the fused CPU path, forward and backward.</summary>
    [Theory]
    [InlineData(2880L, 9)]
    [InlineData(2880L, 1)]
    [InlineData(2872L, 4)]   // not a multiple of the 8-element pack: the scalar kernels, 90 segments per row
    public void Wide_rows_and_many_copies_are_bit_identical_to_the_fused_cpu_path(long hidden, int k)
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 97, experts: 32, k: k, hidden, seed: 68, ScalarType.BFloat16);
        var cpu = Run(tokens, map, probs, null, false, fused: true, CPU);
        var gpu = Run(tokens, map, probs, null, false, fused: true, CUDA);
        AssertMatchesFusedCpu(cpu, gpu, hidden);
    }

    [Fact]
    public void Fused_cuda_unpermute_and_its_backward_are_bit_identical_across_runs()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 4096, experts: 64, k: 8, hidden: 1024, seed: 63, ScalarType.BFloat16);
        var first = Run(tokens, map, probs, null, false, fused: true, CUDA);
        for (int run = 0; run < 3; run++)
        {
            var again = Run(tokens, map, probs, null, false, fused: true, CUDA);
            TensorAssert.Equal(first.Weighted, again.Weighted, $"run {run}: unpermute");
            TensorAssert.Equal(first.TokensGrad, again.TokensGrad, $"run {run}: tokens grad");
            TensorAssert.Equal(first.UnpermuteProbsGrad, again.UnpermuteProbsGrad, $"run {run}: probs grad");
        }
    }

    public static TheoryData<string> EdgeCases => new(EdgeCase.All.Select(e => e.Name).ToArray());

    [Theory, MemberData(nameof(EdgeCases))]
    public void Edge_cases_keep_the_exact_contract_on_cuda(string name)
    {
        RequireCuda();
        var c = EdgeCase.All.Single(e => e.Name == name).Create();
        RoutingContract.Check(c, CUDA, fused: true);
        RoutingContract.Check(c, CUDA, fused: false);
    }

    /// <summary>Views that start 2 bytes into their storage force the narrow kernels; the results do not change.</summary>
    [Fact]
    public void Unaligned_views_take_the_narrow_kernels_and_give_the_same_results()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 100, experts: 8, k: 2, hidden: 64, seed: 64, ScalarType.BFloat16);
        var (mapGpu, probsGpu) = (map.cuda(), probs.cuda());
        var aligned = tokens.cuda();
        var unaligned = Unaligned(tokens);
        Assert.False(TensorChecks.IsAligned(unaligned, 4));
        var expected = TokenPermutation.Permute(aligned, mapGpu, probsGpu, fused: true);
        var actual = TokenPermutation.Permute(unaligned, mapGpu, probsGpu, fused: true);
        TensorAssert.Equal(expected.PermutedInput, actual.PermutedInput, "permute from an unaligned view");
        TensorAssert.Equal(expected.PermutedProbs!, actual.PermutedProbs!, "probs");
        var rows = Unaligned(expected.PermutedInput.cpu());
        TensorAssert.Equal(TokenPermutation.Unpermute(expected.PermutedInput, expected.SortedIndices, tokens.shape, probsGpu, fused: true),
                           TokenPermutation.Unpermute(rows, expected.SortedIndices, tokens.shape, probsGpu, fused: true), "unpermute of an unaligned view");
    }

    /// <summary>Launches run on libtorch's autograd worker thread in backward, where no CUDA context is current until
    /// the launch makes the primary context current; a gradient through two fused functions shows that it works.</summary>
    [Fact]
    public void Backward_through_the_fused_cuda_functions_runs_on_the_autograd_thread()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 64, experts: 8, k: 2, hidden: 16, seed: 65);
        var x = tokens.cuda().requires_grad_();
        var (permuted, _, rowMap) = TokenPermutation.Permute(x, map.cuda(), fused: true);
        TokenPermutation.Unpermute(permuted * 2, rowMap, tokens.shape, fused: true).sum().backward();
        BackwardFailures.ThrowIfAny();
        TensorAssert.Equal(full(new long[] { 64, 16 }, 4f), x.grad!, "d/dx Σ 2·(x copied to 2 experts) = 4");
    }

    /// <summary>The checks that stand between a bad argument and a wrong result hold on CUDA too (the row-map and
    /// numOutTokens checks are read back after the bounds-safe kernels are queued; the others come before any
    /// launch).</summary>
    [Fact]
    public void Bad_arguments_on_cuda_are_argument_exceptions()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 6, experts: 4, k: 2, hidden: 3, seed: 67);
        var (x, m) = (tokens.cuda(), map.cuda());
        Assert.Equal(12, TokenPermutation.Permute(x, m, numOutTokens: 12, fused: true).PermutedInput.shape[0]);
        Assert.Equal("numOutTokens", Assert.ThrowsAny<System.ArgumentException>(() => TokenPermutation.Permute(x, m, numOutTokens: 11, fused: true)).ParamName);
        var (permuted, _, rowMap) = TokenPermutation.Permute(x, m, fused: true);
        Assert.Equal("sortedIndices", Assert.ThrowsAny<System.ArgumentException>(
            () => TokenPermutation.Unpermute(permuted.narrow(0, 0, 11), rowMap, tokens.shape, fused: true)).ParamName);
        Assert.Equal("sortedIndices", Assert.ThrowsAny<System.ArgumentException>(
            () => TokenPermutation.Unpermute(permuted, rowMap, tokens.shape, fused: false)).ParamName);
        Assert.Equal("probs", Assert.ThrowsAny<System.ArgumentException>(
            () => TokenPermutation.Unpermute(permuted, rowMap, tokens.shape, probs, fused: true)).ParamName);   // probs on the CPU
    }

    /// <summary>
    /// Dropless with numOutTokens, the permute is queued at that size before the routed count is read back; a wrong
    /// count (smaller, larger, T·E, past T·E, past int32) still throws naming numOutTokens, with probs or without,
    /// tokens requiring grad or not, and the kernel wrote nothing out of bounds: the context stays healthy and a right
    /// count, or none, right after gives the fused CPU path's rows.
    /// </summary>
    [Fact]
    public void A_wrong_num_out_tokens_throws_naming_it_and_writes_nothing_out_of_bounds()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingTestData.TopK(tokens: 500, experts: 32, k: 4, hidden: 40, seed: 69);
        var (expected, expectedProbs, expectedMap) = TokenPermutation.Permute(tokens, map, probs, fused: true);
        long routed = expected.shape[0], pairs = 500 * 32;
        var (x, m, p) = (tokens.cuda(), map.cuda(), probs.cuda());
        foreach (long wrong in new[] { routed - 1, 0, 1, routed + 1, pairs, pairs + 1, 1L << 40 })
            foreach (bool withProbs in new[] { true, false })
                foreach (bool grad in new[] { false, true })
                {
                    var input = grad ? x.detach().requires_grad_() : x;
                    var error = Assert.ThrowsAny<System.ArgumentException>(
                        () => TokenPermutation.Permute(input, m, withProbs ? p : null, numOutTokens: wrong, fused: true));
                    Assert.True(error.ParamName == "numOutTokens", $"numOutTokens {wrong}, probs {withProbs}, grad {grad}: the error names {error.ParamName}.");
                }
        foreach (long? given in new long?[] { routed, null })
        {
            var (permuted, permutedProbs, rowMap) = TokenPermutation.Permute(x, m, p, numOutTokens: given, fused: true);
            TensorAssert.Equal(expected, permuted.cpu(), $"permuted rows, numOutTokens {given?.ToString() ?? "null"}");
            TensorAssert.Equal(expectedProbs!, permutedProbs!.cpu(), $"permuted probs, numOutTokens {given?.ToString() ?? "null"}");
            TensorAssert.Equal(expectedMap, rowMap.cpu(), $"row map, numOutTokens {given?.ToString() ?? "null"}");
        }
    }

    internal static void RequireCuda() => Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device (or no driver / CUDA libtorch).");

    /// <summary>A copy of <paramref name="cpu"/> on the GPU whose data starts one element (2 bytes) into its storage.</summary>
    private static Tensor Unaligned(Tensor cpu)
    {
        var storage = empty(cpu.numel() + 1, dtype: cpu.dtype, device: CUDA);
        var view = storage.narrow(0, 1, cpu.numel()).view(cpu.shape);
        view.copy_(cpu);
        return view;
    }

    /// <summary>Every result bit-identical to the fused CPU path's, but the probs' gradient: a dot over the row
    /// reduced in another order on each device, so equal to rounding.</summary>
    private static void AssertMatchesFusedCpu(Outcome cpu, Outcome gpu, long hidden)
    {
        TensorAssert.Equal(cpu.Permuted, gpu.Permuted, "permuted rows");
        TensorAssert.Equal(cpu.PermutedProbs, gpu.PermutedProbs, "permuted probs");
        TensorAssert.Equal(cpu.Sum, gpu.Sum, "unpermute without probs");
        TensorAssert.Equal(cpu.Weighted, gpu.Weighted, "unpermute with probs");
        TensorAssert.Equal(cpu.TokensGrad, gpu.TokensGrad, "permute backward: tokens grad");
        TensorAssert.Equal(cpu.PermuteProbsGrad, gpu.PermuteProbsGrad, "permute backward: probs grad");
        TensorAssert.Equal(cpu.RowsGrad, gpu.RowsGrad, "unpermute backward: rows grad");
        TensorAssert.Close(cpu.UnpermuteProbsGrad, gpu.UnpermuteProbsGrad, 1e-5, 1e-5 * hidden, "unpermute backward: probs grad (a dot over H)");
    }

    private sealed record Outcome(Tensor Permuted, Tensor PermutedProbs, Tensor RowMap, Tensor Sum, Tensor Weighted,
                                  Tensor TokensGrad, Tensor PermuteProbsGrad, Tensor RowsGrad, Tensor UnpermuteProbsGrad);

    /// <summary>Permute and unpermute forward and backward on one device and path, results on the CPU. The upstream
    /// gradients are fixed by seed, so runs are comparable.</summary>
    private static Outcome Run(Tensor tokens, Tensor map, Tensor probs, long? numOutTokens, bool dropAndPad, bool fused, Device device)
    {
        var generator = new Generator(66);
        // detach first: on the CPU .to() returns the shared test tensor itself, and marking that as requiring grad
        // would make the next run's .to(CUDA) a differentiable copy (a non-leaf with no .grad).
        var x = tokens.detach().to(device).requires_grad_();
        var p = probs.detach().to(device).requires_grad_();
        var m = map.to(device);
        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(x, m, p, numOutTokens, fused, dropAndPad);
        var rowWeights = randn(permuted.shape, generator: generator).to(device);
        var probWeights = randn(permutedProbs!.shape, generator: generator).to(device);
        ((permuted.to(ScalarType.Float32) * rowWeights).sum() + (permutedProbs * probWeights).sum()).backward();

        bool capacityLayout = dropAndPad && numOutTokens is not null;
        var rows = (permuted.detach() * 0.75).requires_grad_();   // stands in for the experts' outputs
        var p2 = probs.detach().to(device).requires_grad_();
        var sum = TokenPermutation.Unpermute(rows.detach(), indices, tokens.shape, null, m, fused, capacityLayout);
        var weighted = TokenPermutation.Unpermute(rows, indices, tokens.shape, p2, m, fused, capacityLayout);
        (weighted.to(ScalarType.Float32) * randn(weighted.shape, generator: generator).to(device)).sum().backward();
        BackwardFailures.ThrowIfAny();
        var rowMap = fused ? indices : zeros(1, dtype: ScalarType.Int32);
        return new(permuted.detach().cpu(), permutedProbs.detach().cpu(), rowMap.cpu(), sum.cpu(), weighted.detach().cpu(),
                   x.grad!.cpu(), p.grad!.cpu(), rows.grad!.cpu(), p2.grad!.cpu());
    }

    /// <summary>Edge cases as named theory rows (a case holds tensors, so rows carry only the name). The CPU routing
    /// suite checks the same cases (<c>FusedRoutingTests</c>), so a failure here is the CUDA path's.</summary>
    internal sealed record EdgeCase(string Name, System.Func<RoutingCase> Create)
    {
        public static readonly EdgeCase[] All =
        [
            new("no tokens, dropless", () => RoutingCase.TopK(0, 4, 2, 8, ScalarType.Float32, null, false, 1)),
            new("no tokens, drop-and-pad", () => RoutingCase.TopK(0, 4, 2, 8, ScalarType.BFloat16, 16, true, 2)),
            new("one expert", () => RoutingCase.TopK(33, 1, 1, 8, ScalarType.Float32, null, false, 3)),
            new("all tokens to one of many experts, others empty", () => OneExpert(tokens: 70, experts: 50, expert: 37)),
            new("top-k = E = 40 (two ballot rounds of 32)", () => RoutingCase.TopK(20, 40, 40, 16, ScalarType.Float32, null, false, 4)),
            new("top-k = E = 40 with padding", () => RoutingCase.TopK(20, 40, 40, 16, ScalarType.Float32, 40 * 25, true, 5)),
            new("7000 experts (219 ballot rounds of 32 per warp task)", () => RoutingCase.TopK(64, 7000, 3, 8, ScalarType.Float32, null, false, 6)),
            new("capacity 0", () => RoutingCase.TopK(30, 8, 2, 8, ScalarType.Float32, 7, true, 7)),
            new("capacity of every token", () => RoutingCase.TopK(30, 8, 2, 8, ScalarType.Float32, 8 * 30 + 5, true, 8)),
            new("hidden 1", () => RoutingCase.TopK(200, 16, 4, 1, ScalarType.Float16, null, false, 9)),
            new("300 experts (10 ballot rounds per warp task)", () => RoutingCase.TopK(150, 300, 6, 24, ScalarType.Float32, null, false, 11)),
            new("300 experts with padding", () => RoutingCase.TopK(150, 300, 6, 24, ScalarType.Float32, 300 * 4, true, 12)),
            new("top-11 of 20 (chunks of 4 copies: 4 + 4 + 3)", () => RoutingCase.TopK(90, 20, 11, 40, ScalarType.Float32, null, false, 13)),
            new("hidden 0", () => RoutingCase.TopK(20, 4, 2, 0, ScalarType.Float32, null, false, 14)),
        ];

        private static RoutingCase OneExpert(long tokens, int experts, int expert)
        {
            var routed = new bool[tokens * experts];
            for (long t = 0; t < tokens; t++) routed[t * experts + expert] = true;
            return RoutingCase.Create($"T={tokens} all to expert {expert} of {experts}", routed, tokens, experts, 12, ScalarType.Float32, null, false, 10);
        }
    }
}
