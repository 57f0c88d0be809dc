using System;
using System.Linq;
using MoeOpGen.Engines;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// Runs permute and unpermute (forward and backward) on one <see cref="RoutingCase"/>, one device and one path, and
/// asserts every result against the value predicted on the host, bit for bit: the order contract (expert-major,
/// token-ascending, routed before padding), the rows and probs, <c>Unpermute(Permute(x))</c> with and without probs,
/// and the gradients, the probs' only at the pairs that were gathered. Since the prediction is exact, passing on
/// both paths and both devices means fused = non-fused and CPU = CUDA, bit for bit.
/// </summary>
internal static class RoutingContract
{
    public static void Check(RoutingCase c, Device device, bool fused)
    {
        using var scope = NewDisposeScope();
        string path = (fused ? "fused" : "non-fused") + " on " + device.type;
        long tokens = c.TokenCount, hidden = c.Hidden, rows = c.RowCount;
        int experts = c.Experts;
        var map = c.RoutingMap(device);

        // Permute, and its backward from a loss over both outputs.
        var x = c.Tokens(device).requires_grad_();
        var probs = c.Probs(device).requires_grad_();
        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(x, map, probs, c.NumOutTokens, fused, c.DropAndPad);
        Assert.Equal(device.type, permuted.device_type);
        AssertOrder(c, indices, fused, path);
        TensorAssert.Equal(Expected(c, [rows, hidden], c.Dtype, (r, h) => c.X[c.RowToken[r] * hidden + h]), permuted, $"{path}: permuted rows");
        TensorAssert.Equal(Expected(c, [rows], ScalarType.Float32, (r, _) => c.P[Pair(c, r)]), permutedProbs!, $"{path}: permuted probs");

        var rowWeights = RoutingCase.Tensor(c.RowWeights, [rows, hidden], ScalarType.Float32, device);
        var probWeights = RoutingCase.Tensor(c.ProbWeights, [rows], ScalarType.Float32, device);
        ((permuted.to(ScalarType.Float32) * rowWeights).sum() + (permutedProbs! * probWeights).sum()).backward();
        BackwardFailures.ThrowIfAny();
        var tokensGrad = new double[tokens * hidden];
        var permuteProbsGrad = new double[tokens * experts];
        for (long r = 0; r < rows; r++)
        {
            for (long h = 0; h < hidden; h++)
                tokensGrad[c.RowToken[r] * hidden + h] += c.RowWeights[r * hidden + h];
            permuteProbsGrad[Pair(c, r)] = c.ProbWeights[r];   // each pair is gathered at most once
        }
        TensorAssert.Equal(Tensor(tokensGrad, [tokens, hidden], c.Dtype), Grad(x, rows), $"{path}: tokens grad (sum over the copies)");
        TensorAssert.Equal(Tensor(permuteProbsGrad, [tokens, experts], ScalarType.Float32), Grad(probs, rows), $"{path}: probs grad of permute (only gathered pairs)");

        // Unpermute(Permute(x)) without probs: each token times its number of copies.
        var copies = new double[tokens];
        var gatheredProbs = new double[tokens];
        for (long r = 0; r < rows; r++)
        {
            copies[c.RowToken[r]]++;
            gatheredProbs[c.RowToken[r]] += c.P[Pair(c, r)];
        }
        var restore = new[] { tokens, hidden };
        var sum = TokenPermutation.Unpermute(permuted.detach(), indices, restore, null, map, fused, c.CapacityLayout);
        TensorAssert.Equal(Tensor(Scale(c, copies), restore, c.Dtype), sum, $"{path}: Unpermute(Permute(x)) = copies · x");

        // With probs: each token times the sum of its gathered probs (1 for normalised dropless routing); backward.
        var expertRows = permuted.detach().clone().requires_grad_();
        var probsAgain = c.Probs(device).requires_grad_();
        var weighted = TokenPermutation.Unpermute(expertRows, indices, restore, probsAgain, map, fused, c.CapacityLayout);
        TensorAssert.Equal(Tensor(Scale(c, gatheredProbs), restore, c.Dtype), weighted, $"{path}: Unpermute(Permute(x), probs) = Σp · x");
        var outputWeights = RoutingCase.Tensor(c.OutputWeights, restore, ScalarType.Float32, device);
        (weighted.to(ScalarType.Float32) * outputWeights).sum().backward();
        BackwardFailures.ThrowIfAny();
        var unpermuteProbsGrad = new double[tokens * experts];
        for (long r = 0; r < rows; r++)
        {
            long t = c.RowToken[r];
            double dot = 0;
            for (long h = 0; h < hidden; h++) dot += c.X[t * hidden + h] * c.OutputWeights[t * hidden + h];
            unpermuteProbsGrad[Pair(c, r)] = dot;
        }
        TensorAssert.Equal(Expected(c, [rows, hidden], c.Dtype, (r, h) => c.P[Pair(c, r)] * c.OutputWeights[c.RowToken[r] * hidden + h]),
                           Grad(expertRows, tokens), $"{path}: rows grad of unpermute (p · upstream)");
        TensorAssert.Equal(Tensor(unpermuteProbsGrad, [tokens, experts], ScalarType.Float32), Grad(probsAgain, tokens),
                           $"{path}: probs grad of unpermute (only gathered pairs)");
    }

    /// <summary>Non-fused: the token ids are the expected ones. Fused: the row map sends each (token, expert) pair to
    /// exactly the expected row, and every other pair to -1.</summary>
    private static void AssertOrder(RoutingCase c, Tensor indices, bool fused, string path)
    {
        if (!fused)
        {
            var ids = indices.cpu().data<long>().ToArray();
            if (!ids.SequenceEqual(c.RowToken))
                Assert.Fail($"{path}: sorted indices break the order contract; first difference at row "
                            + Enumerable.Range(0, Math.Min(ids.Length, c.RowToken.Length)).FirstOrDefault(r => ids[r] != c.RowToken[r], Math.Min(ids.Length, c.RowToken.Length))
                            + $" ({ids.Length} rows, expected {c.RowToken.Length}).");
            return;
        }
        var expected = Enumerable.Repeat(-1, checked((int)(c.TokenCount * c.Experts))).ToArray();
        for (long r = 0; r < c.RowCount; r++) expected[Pair(c, r)] = (int)r;
        TensorAssert.Equal(torch.tensor(expected, [c.TokenCount, c.Experts]), indices, $"{path}: row map");
    }

    /// <summary>The flat <c>[T, E]</c> index of the pair that row <paramref name="r"/> holds.</summary>
    private static long Pair(RoutingCase c, long r) => c.RowToken[r] * c.Experts + c.RowExpert[r];

    /// <summary>Each token row of x times <paramref name="factor"/>[t].</summary>
    private static double[] Scale(RoutingCase c, double[] factor)
    {
        var values = new double[c.TokenCount * c.Hidden];
        for (long i = 0; i < values.LongLength; i++) values[i] = factor[i / c.Hidden] * c.X[i];
        return values;
    }

    private static Tensor Expected(RoutingCase c, long[] shape, ScalarType dtype, Func<long, long, double> value)
    {
        long width = shape.Length > 1 ? shape[1] : 1;
        var values = new double[shape.Aggregate(1L, (a, b) => a * b)];
        for (long i = 0; i < values.LongLength; i++) values[i] = value(i / width, i % width);
        return Tensor(values, shape, dtype);
    }

    private static Tensor Tensor(double[] values, long[] shape, ScalarType dtype) => RoutingCase.Tensor(values, shape, dtype, CPU);

    /// <summary>The gradient of a leaf; an empty problem may leave none, which then counts as zeros.</summary>
    private static Tensor Grad(Tensor leaf, long work)
    {
        if (leaf.grad is Tensor grad) return grad;
        Assert.True(work == 0 || leaf.numel() == 0, "A leaf that the outputs depend on received no gradient.");
        return zeros_like(leaf);
    }
}
