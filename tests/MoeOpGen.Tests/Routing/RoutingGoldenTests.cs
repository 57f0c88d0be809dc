using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Parity with the reference module's own outputs (golden data), on the composite and fused paths.</summary>
public class RoutingGoldenTests
{
    public static TheoryData<string> PermuteCases => GoldenCases.TheoryData("permute");
    public static TheoryData<string> UnpermuteCases => GoldenCases.TheoryData("unpermute");

    [Theory, MemberData(nameof(PermuteCases))]
    public void Permute_matches_the_reference(string caseName)
    {
        using var scope = NewDisposeScope();
        var c = GoldenCases.Load(caseName);
        var probs = c.Has("probs") ? c["probs"] : null;
        long? numOutTokens = c.HasScalar("num_out_tokens") ? c.Long("num_out_tokens") : null;
        bool dropAndPad = c.Function == "permute_drop_and_pad";

        // Permuting is a copy, so the rows and probs must be exact, not merely within tolerance.
        var (permuted, permutedProbs, sortedIndices) = TokenPermutation.Permute(
            c["tokens"], c["routing_map"], probs, numOutTokens, fused: false, dropAndPad: dropAndPad);
        TensorAssert.Equal(c["sorted_indices"], sortedIndices, "sorted_indices");
        TensorAssert.Equal(c["permuted"], permuted, "permuted");
        if (probs is null) Assert.Null(permutedProbs);
        else TensorAssert.Equal(c["permuted_probs"], permutedProbs!, "permuted_probs");

        var (fusedPermuted, fusedProbs, rowMap) = TokenPermutation.Permute(
            c["tokens"], c["routing_map"], probs, numOutTokens, fused: true, dropAndPad: dropAndPad);
        TensorAssert.Equal(c["permuted"], fusedPermuted, "fused permuted");
        if (probs is not null) TensorAssert.Equal(c["permuted_probs"], fusedProbs!, "fused permuted_probs");
        Assert.Equal(c["sorted_indices"].data<long>().ToArray(), RoutingTestData.TokenIdsOf(rowMap, permuted.shape[0]));
    }

    [Theory, MemberData(nameof(UnpermuteCases))]
    public void Unpermute_matches_the_reference(string caseName)
    {
        using var scope = NewDisposeScope();
        var c = GoldenCases.Load(caseName);
        var restoreShape = c.LongArray("restore_shape");
        var probs = c.Has("probs") ? c["probs"] : null;
        var routingMap = c.Has("routing_map") ? c["routing_map"] : null;
        bool dropAndPad = c.Function == "unpermute_drop_and_pad";
        var sortedIndices = c["sorted_indices"];

        var output = TokenPermutation.Unpermute(c["permuted"], sortedIndices, restoreShape, probs, routingMap, fused: false, dropAndPad: dropAndPad);
        TensorAssert.Close(c["out"], output, "composite unpermute");

        // The fused path needs its row map: from the routing map when the case has one (checking that it lays the
        // rows out as the reference did), else from the token ids.
        Tensor rowMap;
        if (routingMap is not null)
        {
            var dummyTokens = zeros(restoreShape[0], 1);
            long? numOutTokens = dropAndPad ? sortedIndices.numel() : null;
            rowMap = TokenPermutation.Permute(dummyTokens, routingMap, numOutTokens: numOutTokens, fused: true, dropAndPad: dropAndPad).SortedIndices;
            Assert.Equal(sortedIndices.data<long>().ToArray(), RoutingTestData.TokenIdsOf(rowMap, sortedIndices.numel()));
        }
        else
        {
            rowMap = RoutingTestData.RowMapFromTokenIds(sortedIndices, restoreShape[0]);
        }
        var fusedOutput = TokenPermutation.Unpermute(c["permuted"], rowMap, restoreShape, probs, fused: true);
        TensorAssert.Close(c["out"], fusedOutput, "fused unpermute");
    }
}
