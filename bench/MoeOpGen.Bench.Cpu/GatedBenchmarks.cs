using BenchmarkDotNet.Attributes;
using MoeOpGen.Engines;
using static TorchSharp.torch;

namespace MoeOpGen.Bench.Cpu;

/// <summary>
/// The fused CPU kernel (<see cref="Engine.Auto"/> on CPU tensors) against the TorchSharp composite
/// (<see cref="Engine.Composite"/>) at 8192 rows × 2·1024, forward alone and forward + backward (the explicit,
/// non-autograd entry points, so both engines do the same work: output, then input/weights/bias gradients).
/// The fused kernel is each category's baseline, so the composite's Ratio is the fused kernel's speed-up.
/// </summary>
[Config(typeof(CpuBenchmarkConfig))]
public class GatedBenchmarks
{
    private const long Rows = 8192, Hidden = 1024;

    private Tensor _input = null!, _grad = null!;
    private Tensor? _weights, _bias;

    [Params(GatedCase.SwiGlu, GatedCase.QuickGeGluWeightsBiasClamp, GatedCase.GeGluErf)]
    public GatedCase Operator { get; set; }

    [Params(StorageType.Fp32, StorageType.Bf16)]
    public StorageType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var dtype = DType == StorageType.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var generator = new TorchSharp.torch.Generator(20240501);
        _input = randn([Rows, 2 * Hidden], generator: generator).to(dtype);
        _grad = randn([Rows, Hidden], generator: generator).to(dtype);
        if (GatedCases.HasWeightsAndBias(Operator))
        {
            _weights = rand([Rows, 1], generator: generator);
            _bias = (0.1 * randn([2 * Hidden], generator: generator)).to(dtype);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _input.Dispose();
        _grad.Dispose();
        _weights?.Dispose();
        _bias?.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Forward")]
    public void FusedForward() => Forward(Engine.Auto);

    [Benchmark, BenchmarkCategory("Forward")]
    public void CompositeForward() => Forward(Engine.Composite);

    [Benchmark(Baseline = true), BenchmarkCategory("Forward+Backward")]
    public void FusedForwardBackward() => ForwardBackward(Engine.Auto);

    [Benchmark, BenchmarkCategory("Forward+Backward")]
    public void CompositeForwardBackward() => ForwardBackward(Engine.Composite);

    private void Forward(Engine engine)
    {
        using var scope = NewDisposeScope();
        GatedCases.Forward(Operator, _input, _weights, _bias, engine);
    }

    private void ForwardBackward(Engine engine)
    {
        using var scope = NewDisposeScope();
        GatedCases.Forward(Operator, _input, _weights, _bias, engine);
        GatedCases.Backward(Operator, _grad, _input, _weights, _bias, engine);
    }
}
