using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>The device's copy bandwidth, the limit of a memory-bound kernel, measured in the same run.</summary>
internal static class CopyBandwidth
{
    /// <summary>GB/s of <c>dst.copy_(src)</c> on a large bf16 tensor (1 GiB on a GPU, as the peers script; 8 MiB
    /// on the CPU): bytes read + written / median time.</summary>
    public static double MeasureGbps(BenchDevice device, StepTimer timer)
    {
        long elements = device.IsCuda ? 1L << 29 : 1L << 22;
        using var scope = NewDisposeScope();
        var src = empty([elements], ScalarType.BFloat16, device.Device).normal_();
        var dst = empty_like(src);
        double us = timer.MedianMicroseconds(() => dst.copy_(src));
        double bytes = 2.0 * elements * 2;
        return bytes / (us * 1e-6) / 1e9;
    }
}
