using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Golden;

/// <summary>The loader reads the manifest and every dtype of the safetensors file faithfully.</summary>
public class GoldenCasesTests
{
    [Fact]
    public void Loads_bf16_bool_int64_and_zero_dim_tensors_with_their_shapes()
    {
        var permute = GoldenCases.Load("permute/bf16_T16_E4_K2_H8");
        Assert.Equal(ScalarType.BFloat16, permute["tokens"].dtype);
        Assert.Equal(new long[] { 16, 8 }, permute["tokens"].shape);
        Assert.Equal(ScalarType.Bool, permute["routing_map"].dtype);
        Assert.Equal(ScalarType.Int64, permute["sorted_indices"].dtype);
        // Values read independently from the file (Python struct) when the loader was written.
        Assert.Equal(-0.9921875f, permute["tokens"][0, 0].to(ScalarType.Float32).item<float>());
        Assert.Equal(new[] { true, true, false, false }, permute["routing_map"][0].data<bool>().ToArray());
        Assert.Equal(new long[] { 2, 3, 8, 9 }, GoldenCases.Load("permute/f32_T16_E4_K2_H8")["sorted_indices"][..4].data<long>().ToArray());
        // The routing map has two experts per token (K2), and sorted_indices lists each routed pair once.
        Assert.Equal(permute["routing_map"].count_nonzero().item<long>(), permute["sorted_indices"].numel());

        var aux = GoldenCases.Load("aux_loss_autoscaler/scale0.25");
        Assert.Equal(0, aux["aux_loss"].dim());
        Assert.Equal(0.37f, aux["aux_loss"].item<float>());
        Assert.Equal(0.25, aux.Double("main_loss_backward_scale"));
    }

    [Fact]
    public void Lists_cases_by_prefix_and_reads_scalars()
    {
        GoldenCases.SkipIfAbsent();
        var names = GoldenCases.Names("unpermute_drop_and_pad/");
        Assert.Equal(4, names.Count);
        var c = GoldenCases.Load(names[0]);
        Assert.Equal("unpermute_drop_and_pad", c.Function);
        Assert.Equal(new long[] { 16, 8 }, c.LongArray("restore_shape"));
        Assert.Equal(28, GoldenCases.Load("permute_drop_and_pad/f32_T16_E4_K2_H8").Long("num_out_tokens"));
        Assert.All(GoldenCases.All("permute"), p => Assert.StartsWith("permute", p.Name));
    }

    [Fact]
    public void Each_case_gets_its_own_copies()
    {
        var first = GoldenCases.Load("permute/f32_T16_E4_K2_H8");
        first["tokens"].zero_();
        var second = GoldenCases.Load("permute/f32_T16_E4_K2_H8");
        Assert.NotEqual(0, second["tokens"].abs().sum().item<float>());
    }
}
