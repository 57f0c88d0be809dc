using System;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using Tolerance = MoeOpGen.Tests.Numerics.Tolerance;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>What the facade adds to the generated operators: argument checks, and the documented differences from the reference.</summary>
public class MoeUtilsBehaviourTests
{
    public static TheoryData<long[]> BadImplShapes => new() { new long[] { 8 }, new long[] { 2, 2, 3, 8 } };

    [Theory]
    [MemberData(nameof(BadImplShapes))]
    public void ImplFunctionsRejectInputThatIsNeither2DNor3D(long[] shape)
    {
        using var scope = NewDisposeScope();
        var input = randn(shape);
        var weights = ones(2, 1);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => MoeUtils.WeightedBiasSwigluImpl(input, weights)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => MoeUtils.WeightedBiasGegluImpl(input, weights)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => MoeUtils.WeightedBiasQuickGegluImpl(input, null, weights)).ParamName);
    }

    [Fact]
    public void QuickGegluImplHonoursAlpha()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var input = randn(6, 8);
        var weights = rand(6, 1);
        var withAlpha1 = MoeUtils.WeightedBiasQuickGegluImpl(input, null, weights, alpha: 1.0);
        var expected = QuickGeGlu.Forward(input, weights, alpha: 1f, engine: Engine.Composite);
        Tolerance.Fp32.AssertClose(expected, withAlpha1, "alpha 1.0");
        Assert.False(withAlpha1.allclose(MoeUtils.WeightedBiasQuickGegluImpl(input, null, weights), rtol: 1e-3, atol: 1e-4),
            "alpha 1.0 gave the alpha 1.702 result: alpha was not passed through.");
    }

    /// <summary>The reference's E4M3 cast makes 500 a NaN; MoeOpGen saturates it to 448, the largest finite E4M3.</summary>
    [Fact]
    public void Fp8InputStoreSaturatesAt448()
    {
        using var scope = NewDisposeScope();
        // Every value but ±500 is exact in E4M3, so the stored copy equals `saturated`.
        var input = tensor(new float[] { 500f, -2f, 0.5f, -500f, 1f, 0.25f, 448f, -1.5f }, [2, 4]).requires_grad_(true);
        var saturated = tensor(new float[] { 448f, -2f, 0.5f, -448f, 1f, 0.25f, 448f, -1.5f }, [2, 4]);
        var weights = tensor(new float[] { 0.5f, 2f }, [2, 1]);
        var grad = tensor(new float[] { 1f, -1f, 0.5f, 2f }, [2, 2]);

        MoeUtils.WeightedBiasSwigluImpl(input, weights, fp8InputStore: true).backward([grad]);

        Assert.False(input.grad!.isnan().any().item<bool>(), "the FP8 store produced NaN gradients");
        Tolerance.Fp32.AssertClose(MoeUtils.WeightedSwigluBack(grad, saturated, weights).InputGrad, input.grad!, "input_grad");
    }

    [Fact]
    public void StridedInputIsAccepted()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var y = randn(8, 5).t(); // [5, 8], not contiguous
        Assert.False(y.is_contiguous());
        Tolerance.Fp32.AssertClose(MoeUtils.Swiglu(y.contiguous()), MoeUtils.Swiglu(y), "swiglu of a transposed view");
    }

    [Fact]
    public void ImplKeepsTheLeadingDimensionsOf3DInput()
    {
        using var scope = NewDisposeScope();
        var output = MoeUtils.WeightedBiasGegluImpl(randn(3, 5, 16), rand(15, 1));
        Assert.Equal(new long[] { 3, 5, 8 }, output.shape);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public void ImplOnCudaMatchesTheCpu()
    {
        Assert.SkipUnless(cuda.is_available(), "No CUDA device.");
        using var scope = NewDisposeScope();
        manual_seed(3);
        var input = randn(3, 5, 16);
        var bias = randn(16);
        var weights = rand(15, 1);
        var grad = randn(3, 5, 8);

        var cpu = Run(input, bias, weights, grad);
        var gpu = Run(input.cuda(), bias.cuda(), weights.cuda(), grad.cuda());
        string[] names = ["out", "input_grad", "bias_grad", "weights_grad"];
        for (int i = 0; i < names.Length; i++)
            Tolerance.Fp32.AssertClose(cpu[i], gpu[i].cpu(), names[i]);

        static Tensor[] Run(Tensor input, Tensor bias, Tensor weights, Tensor grad)
        {
            var x = input.detach().requires_grad_(true);
            var b = bias.detach().requires_grad_(true);
            var w = weights.detach().requires_grad_(true);
            var output = MoeUtils.WeightedBiasQuickGegluImpl(x, b, w, linearOffset: 1.0, clampValue: 1.5);
            output.backward([grad]);
            return [output, x.grad!, b.grad!, w.grad!];
        }
    }
}
