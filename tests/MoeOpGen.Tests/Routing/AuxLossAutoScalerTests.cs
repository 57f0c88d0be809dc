using System;
using MoeOpGen.Moe;
using MoeOpGen.Tests.Golden;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>Tests that touch process-wide routing state (the aux-loss scale, the pending backward error) run in
/// this collection, alone and one at a time.</summary>
[CollectionDefinition(nameof(RoutingStaticStateCollection), DisableParallelization = true)]
public sealed class RoutingStaticStateCollection;

/// <summary>MoEAuxLossAutoScaler: identity forward, scale injected as the aux loss's gradient.</summary>
[Collection(nameof(RoutingStaticStateCollection))]
public sealed class AuxLossAutoScalerTests : IDisposable
{
    public AuxLossAutoScalerTests() => MoEAuxLossAutoScaler.ResetLossScale();

    public void Dispose() => MoEAuxLossAutoScaler.ResetLossScale();

    [Fact]
    public void Matches_the_reference_golden_case() => AssertGoldenCase(CPU);

    /// <summary>The golden aux-loss case on <paramref name="device"/> (the CUDA suite runs it too, in this collection).</summary>
    internal static void AssertGoldenCase(Device device)
    {
        using var scope = NewDisposeScope();
        var c = GoldenCases.Load("aux_loss_autoscaler/scale0.25");
        MoEAuxLossAutoScaler.SetLossScale(tensor(c.Double("main_loss_backward_scale")).to(ScalarType.Float32).to(device));
        var output = c["output"].to(device).requires_grad_();
        var auxLoss = c["aux_loss"].to(device).requires_grad_();
        var result = MoEAuxLossAutoScaler.Apply(output, auxLoss);
        Assert.Equal(device.type, result.device_type);
        TensorAssert.Equal(c["out"], result, "out");
        result.backward(new[] { c["grad_output"].to(device) });
        TensorAssert.Close(c["output_grad"], output.grad!, "output grad");
        TensorAssert.Close(c["aux_loss_grad"], auxLoss.grad!, "aux loss grad");
    }

    [Fact]
    public void Unset_scale_means_one_and_the_output_gradient_passes_unchanged()
    {
        using var scope = NewDisposeScope();
        Assert.Null(MoEAuxLossAutoScaler.MainLossBackwardScale);
        var (output, auxLoss, upstream) = Inputs();
        var result = MoEAuxLossAutoScaler.Apply(output, auxLoss);
        TensorAssert.Equal(output.detach(), result.detach(), "identity forward");
        result.backward(new[] { upstream });
        TensorAssert.Equal(upstream, output.grad!, "output grad");
        TensorAssert.Equal(ones_like(auxLoss), auxLoss.grad!, "aux grad = 1");
    }

    [Fact]
    public void Second_set_updates_the_same_tensor_in_place()
    {
        using var scope = NewDisposeScope();
        using (var first = tensor(0.5f))
            MoEAuxLossAutoScaler.SetLossScale(first);   // disposed right away: the scaler keeps its own copy
        var stored = MoEAuxLossAutoScaler.MainLossBackwardScale!;
        Assert.Equal(0.5f, stored.item<float>());
        AssertAuxGradient(0.5f);

        MoEAuxLossAutoScaler.SetLossScale(tensor(new[] { 3.0 }));   // fp64 [1] into the stored fp32 0-d tensor
        Assert.Same(stored, MoEAuxLossAutoScaler.MainLossBackwardScale);
        Assert.Equal(3.0f, stored.item<float>());
        AssertAuxGradient(3.0f);
    }

    [Fact]
    public void Set_loss_scale_rejects_a_tensor_that_is_not_one_float()
    {
        Assert.Equal("scale", Assert.ThrowsAny<ArgumentException>(() => MoEAuxLossAutoScaler.SetLossScale(ones(2))).ParamName);
        Assert.Equal("scale", Assert.ThrowsAny<ArgumentException>(() => MoEAuxLossAutoScaler.SetLossScale(tensor(1L))).ParamName);
        Assert.Equal("auxLoss", Assert.ThrowsAny<ArgumentException>(() => MoEAuxLossAutoScaler.Apply(ones(2), tensor(1L))).ParamName);
        Assert.Null(MoEAuxLossAutoScaler.MainLossBackwardScale);
    }

    [Fact]
    public void Aux_loss_gradient_keeps_its_dtype_and_shape()
    {
        using var scope = NewDisposeScope();
        MoEAuxLossAutoScaler.SetLossScale(tensor(0.25f));
        var output = randn(3, 2).requires_grad_();
        var auxLoss = randn(4, dtype: ScalarType.BFloat16).requires_grad_();
        MoEAuxLossAutoScaler.Apply(output, auxLoss).sum().backward();
        Assert.Equal(ScalarType.BFloat16, auxLoss.grad!.dtype);
        TensorAssert.Equal(full(4, 0.25, ScalarType.BFloat16), auxLoss.grad!, "bf16 aux grad");
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public void A_cpu_scale_applies_to_a_cuda_aux_loss()
    {
        Assert.SkipUnless(cuda.is_available(), "No CUDA device.");
        using var scope = NewDisposeScope();
        MoEAuxLossAutoScaler.SetLossScale(tensor(0.5f));
        var output = randn(3, 2, device: CUDA).requires_grad_();
        var auxLoss = tensor(1.5f, device: CUDA).requires_grad_();
        MoEAuxLossAutoScaler.Apply(output, auxLoss).sum().backward();
        Assert.Equal(0.5f, auxLoss.grad!.cpu().item<float>());
        TensorAssert.Equal(ones(3, 2), output.grad!.cpu(), "output grad");
    }

    private static (Tensor Output, Tensor AuxLoss, Tensor Upstream) Inputs()
        => (randn(5, 3).requires_grad_(), tensor(0.7f).requires_grad_(), randn(5, 3));

    private static void AssertAuxGradient(float expected)
    {
        var (output, auxLoss, upstream) = Inputs();
        MoEAuxLossAutoScaler.Apply(output, auxLoss).backward(new[] { upstream });
        Assert.Equal(expected, auxLoss.grad!.item<float>());
        TensorAssert.Equal(upstream, output.grad!, "output grad");
    }
}

/// <summary>A failing backward never throws into native code; the next routing call reports it.</summary>
[Collection(nameof(RoutingStaticStateCollection))]
public sealed class BackwardErrorTrapTests
{
    [Fact]
    public void A_failure_returns_no_gradients_and_is_rethrown_once_by_the_next_call()
    {
        var gradients = BackwardErrorTrap.Run("TestFunction", 3, () => throw new InvalidCastException("boom"));
        Assert.Equal(3, gradients.Count);
        Assert.All(gradients, g => Assert.Null(g));

        var error = Assert.Throws<InvalidOperationException>(() => TokenPermutation.Permute(ones(2, 2), ones(2, 2, dtype: ScalarType.Bool)));
        Assert.Contains("TestFunction", error.Message);
        Assert.IsType<InvalidCastException>(error.InnerException);
        TokenPermutation.Permute(ones(2, 2), ones(2, 2, dtype: ScalarType.Bool));   // reported once only
    }
}
