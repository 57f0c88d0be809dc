using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace MoeOpGen.Bench.Cpu;

/// <summary>
/// Where the time goes, at the gated benchmarks' tensor size (8192 × 1024 fp32, 32 MB): what a fresh output tensor
/// costs (allocation and first-touch page faults, then one write pass) against writing an existing one, and what one
/// TorchSharp element-wise op costs, the unit the composite engine pays once per operation of the maths.
/// </summary>
[Config(typeof(CpuBenchmarkConfig))]
public class ElementwiseCostBenchmarks
{
    private const long Rows = 8192, Hidden = 1024;

    private Tensor _a = null!, _b = null!, _existing = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = randn(Rows, Hidden);
        _b = randn(Rows, Hidden);
        _existing = empty(Rows, Hidden).fill_(0f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _existing.Dispose();
    }

    /// <summary>A fresh 32 MB tensor written once: what every output of either engine costs.</summary>
    [Benchmark]
    public void FreshTensorWrite()
    {
        using var scope = NewDisposeScope();
        empty(Rows, Hidden).fill_(1f);
    }

    /// <summary>The same write into memory that is already mapped: the bandwidth part alone.</summary>
    [Benchmark]
    public void ExistingTensorWrite() => _existing.fill_(1f);

    /// <summary>One composite operation: read two 32 MB tensors, write a fresh one.</summary>
    [Benchmark]
    public void TorchMultiply()
    {
        using var scope = NewDisposeScope();
        _ = _a * _b;
    }

    /// <summary>One composite transcendental: read 32 MB, write a fresh 32 MB.</summary>
    [Benchmark]
    public void TorchSigmoid()
    {
        using var scope = NewDisposeScope();
        _a.sigmoid();
    }
}
