using BenchmarkDotNet.Attributes;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using static TorchSharp.torch;

namespace MoeOpGen.Bench.Cpu;

/// <summary>
/// The fused CPU kernel alone (outputs allocated and touched once in setup, so no allocation or page faults are
/// timed): its vector loop against its scalar loop, for QuickGeGlu with weights, bias and clamp 7 in both gate
/// layouts (the interleaved one pays two permutes per load and store). Time per element = Mean / (8192 · 1024).
/// </summary>
[Config(typeof(CpuBenchmarkConfig))]
public class KernelLoopBenchmarks
{
    private const long Rows = 8192, Hidden = 1024;

    private readonly QuickGeGlu.Maths _maths = new(1.702f, 0f);
    private GatedCall _call;
    private Tensor _input = null!, _grad = null!, _weights = null!, _bias = null!;
    private Tensor _output = null!, _inputGrad = null!, _weightsGrad = null!, _biasGrad = null!;

    [Params(GateLayout.Halves, GateLayout.Interleaved)]
    public GateLayout Layout { get; set; }

    [Params(StorageType.Fp32, StorageType.Bf16)]
    public StorageType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var dtype = DType == StorageType.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var generator = new TorchSharp.torch.Generator(20240501);
        _input = randn([Rows, 2 * Hidden], generator: generator).to(dtype);
        _grad = randn([Rows, Hidden], generator: generator).to(dtype);
        _weights = rand([Rows, 1], generator: generator);
        _bias = (0.1 * randn([2 * Hidden], generator: generator)).to(dtype);
        _call = GatedCall.Validate(_input, _weights, _bias, new GatedOptions(7.0, false, Layout));
        _output = zeros([Rows, Hidden], dtype);
        _inputGrad = zeros([Rows, 2 * Hidden], dtype);
        _weightsGrad = zeros(Rows);
        _biasGrad = zeros(2 * Hidden);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _input, _grad, _weights, _bias, _output, _inputGrad, _weightsGrad, _biasGrad }) t.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Forward")]
    public void VectorForward() => GatedCpuKernel<QuickGeGlu.Maths>.Forward(_maths, _call, _input, _weights, _bias, _output, x8: null, vectorise: true);

    [Benchmark, BenchmarkCategory("Forward")]
    public void ScalarForward() => GatedCpuKernel<QuickGeGlu.Maths>.Forward(_maths, _call, _input, _weights, _bias, _output, x8: null, vectorise: false);

    [Benchmark(Baseline = true), BenchmarkCategory("Backward")]
    public void VectorBackward() => Backward(vectorise: true);

    [Benchmark, BenchmarkCategory("Backward")]
    public void ScalarBackward() => Backward(vectorise: false);

    private void Backward(bool vectorise)
        => GatedCpuKernel<QuickGeGlu.Maths>.Backward(_maths, _call, _input.dtype, _grad, _input, x8: null, _weights, _bias,
                                                      _inputGrad, _weightsGrad, _biasGrad, vectorise);
}
