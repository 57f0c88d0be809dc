using System.Linq;
using MoeOpGen.Cuda;
using MoeOpGen.Engines;
using MoeOpGen.Tests.Numerics;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Gpu;

/// <summary>
/// Every operator and variant on CUDA agrees with the fused CPU kernel (which the numerics suite ties to the
/// composite and to finite differences), forward and backward, for fp32, fp16 and bf16; both the 16-byte vector
/// path (hidden 40) and the scalar path (hidden 12, not a multiple of the bf16 pack).
/// </summary>
[Trait("Category", "Gpu")]
public class OperatorCudaTests
{
    public static TheoryData<string, string, string, int> GatedMatrix()
    {
        var data = new TheoryData<string, string, string, int>();
        foreach (var op in OperatorCases.Gated)
            foreach (var v in Variants.All)
                foreach (var dt in new[] { ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16 })
                    foreach (var hidden in new[] { 40, 12 })
                        data.Add(op.Name, v.Name, dt.ToString(), hidden);
        return data;
    }

    [Theory]
    [MemberData(nameof(GatedMatrix))]
    public void GatedCudaMatchesCpu(string name, string variantName, string dtypeName, int hidden)
    {
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device.");
        using var scope = NewDisposeScope();
        var op = OperatorCases.Gated.Single(o => o.Name == name);
        var v = Variants.ByName(variantName);
        var dtype = Variants.Dtype(dtypeName);
        var cpu = GatedInputs.Create(v, dtype, rows: 64, hidden: hidden, seed: 7);
        var tol = v.Fp8 ? Tolerance.Fp8Store : Tolerance.For(dtype);
        Tensor? Cuda(Tensor? t) => t?.cuda();

        if (v.Fp8)
        {
            // Apply with the FP8 store: the E4M3 copy is written by the forward kernel and read by the backward kernel.
            var (xc, xg) = (cpu.Input.detach().requires_grad_(), cpu.Input.cuda().detach().requires_grad_());
            var yc = op.Apply(xc * 1, cpu.Weights, cpu.Bias, v.Clamp, true, v.Layout);
            var yg = op.Apply(xg * 1, Cuda(cpu.Weights), Cuda(cpu.Bias), v.Clamp, true, v.Layout);
            TensorAssert.Close(yc, yg.cpu(), Tolerance.For(dtype), "fp8 forward");
            yc.backward([cpu.UpstreamGrad]);
            yg.backward([cpu.UpstreamGrad.cuda()]);
            BackwardFailures.ThrowIfAny();
            TensorAssert.Close(xc.grad!, xg.grad!.cpu(), Tolerance.For(dtype), "fp8 input grad");
            return;
        }

        var outCpu = op.Forward(cpu.Input, cpu.Weights, cpu.Bias, v.Clamp, v.Layout, Engine.Auto);
        var outGpu = op.Forward(cpu.Input.cuda(), Cuda(cpu.Weights), Cuda(cpu.Bias), v.Clamp, v.Layout, Engine.Auto);
        Assert.True(outGpu.is_cuda);
        TensorAssert.Close(outCpu, outGpu.cpu(), tol, "forward");

        var (dxC, dwC, dbC) = op.Backward(cpu.UpstreamGrad, cpu.Input, cpu.Weights, cpu.Bias, v.Clamp, v.Layout, Engine.Auto);
        var (dxG, dwG, dbG) = op.Backward(cpu.UpstreamGrad.cuda(), cpu.Input.cuda(), Cuda(cpu.Weights), Cuda(cpu.Bias), v.Clamp, v.Layout, Engine.Auto);
        TensorAssert.Close(dxC, dxG.cpu(), tol, "input grad");
        // The weights and bias gradients are sums (over H columns, over rows) whose terms cancel; the two engines add
        // them in different orders (warp tree vs. sequential), so the absolute tolerance scales with the term count.
        var sumTol = tol with { Atol = tol.Atol * 64 };
        if (dwC is not null) TensorAssert.Close(dwC, dwG!.cpu(), sumTol, "weights grad");
        if (dbC is not null) TensorAssert.Close(dbC, dbG!.cpu(), sumTol, "bias grad");
    }

    [Theory]
    [MemberData(nameof(Variants.UnaryByDtype), MemberType = typeof(Variants))]
    public void UnaryCudaMatchesCpu(string name, string dtypeName)
    {
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device.");
        var dtype = Variants.Dtype(dtypeName);
        if (dtype == ScalarType.Float64) Assert.Skip("fp64 runs on the CPU and the composite only.");
        using var scope = NewDisposeScope();
        var op = OperatorCases.Unary.Single(o => o.Name == name);
        var x = (randn(1003, generator: new torch.Generator(3)) * 2).to(dtype);
        var g = randn(1003, generator: new torch.Generator(4)).to(dtype);
        TensorAssert.Close(op.Forward(x, Engine.Auto), op.Forward(x.cuda(), Engine.Auto).cpu(), Tolerance.For(dtype), "forward");
        TensorAssert.Close(op.Backward(g, x, Engine.Auto), op.Backward(g.cuda(), x.cuda(), Engine.Auto).cpu(), Tolerance.For(dtype), "backward");
    }

    [Fact]
    public void WeightsAndBiasGradientsAreBitIdenticalAcrossRuns()
    {
        Assert.SkipUnless(CudaKernels.IsAvailable, "No CUDA device.");
        using var scope = NewDisposeScope();
        var op = OperatorCases.Gated.Single(o => o.Name == "QuickGeGlu");
        var inputs = GatedInputs.Create(Variants.ByName("weighted+bias"), ScalarType.BFloat16, rows: 4096, hidden: 40, seed: 9);
        var x = inputs.Input.cuda(); var w = inputs.Weights!.cuda(); var b = inputs.Bias!.cuda(); var g = inputs.UpstreamGrad.cuda();
        var first = op.Backward(g, x, w, b, null, GateLayout.Halves, Engine.Auto);
        var second = op.Backward(g, x, w, b, null, GateLayout.Halves, Engine.Auto);
        TensorAssert.BitEqual(first.WeightsGrad!.cpu(), second.WeightsGrad!.cpu(), "weights grad");
        TensorAssert.BitEqual(first.BiasGrad!.cpu(), second.BiasGrad!.cpu(), "bias grad");
    }
}
