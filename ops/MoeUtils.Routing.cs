using MoeOpGen.Moe;
using static TorchSharp.torch;

namespace MoeOpGen.Ops;

// The reference's token routing (moe_utils-semantics.md §1.1–1.2), on MoeOpGen.Moe.TokenPermutation (docs/routing.md).
public static partial class MoeUtils
{
    /// <summary>
    /// Reference <c>permute(tokens, routing_map, probs, num_out_tokens, fused, drop_and_pad)</c>: the tokens
    /// <c>[T, Hd]</c> copied once per routed expert, grouped by expert (tokens ascending within an expert), the
    /// matching probs, and the indices that <see cref="Unpermute"/> needs.
    /// </summary>
    /// <remarks>
    /// Calls <see cref="TokenPermutation.Permute"/>. <c>fused: true</c> runs MoeOpGen's own fused kernels (CUDA
    /// kernels on CUDA tensors, parallel loops on the CPU; the reference uses Transformer Engine): same rows in the
    /// same order, but <c>SortedIndices</c> is a row map (int32 <c>[T, E]</c>) that only the fused
    /// <see cref="Unpermute"/> accepts, and whose unpermute is deterministic.
    /// </remarks>
    public static (Tensor PermutedInput, Tensor? PermutedProbs, Tensor SortedIndices) Permute(
        Tensor tokens, Tensor routingMap, Tensor? probs = null, long? numOutTokens = null, bool fused = false, bool dropAndPad = false)
        => TokenPermutation.Permute(tokens, routingMap, probs, numOutTokens, fused, dropAndPad);

    /// <summary>
    /// Reference <c>unpermute(permuted_tokens, sorted_indices, restore_shape, probs, routing_map, fused,
    /// drop_and_pad)</c>: <c>out[t] = Σ_{m: s_m = t} p_m · x_m</c> (p ≡ 1 without probs), zeros where a token
    /// received nothing, in the permuted tokens' dtype.
    /// </summary>
    /// <remarks>
    /// Calls <see cref="TokenPermutation.Unpermute"/>. Difference: the sum is accumulated in fp32 always; the
    /// reference accumulates in fp32 only when the probs are fp32 (type promotion), else in the tokens' dtype.
    /// </remarks>
    public static Tensor Unpermute(Tensor permutedTokens, Tensor sortedIndices, long[] restoreShape, Tensor? probs = null,
        Tensor? routingMap = null, bool fused = false, bool dropAndPad = false)
        => TokenPermutation.Unpermute(permutedTokens, sortedIndices, restoreShape, probs, routingMap, fused, dropAndPad);
}
