using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// Times one step: warm-up calls, then <see cref="Repeats"/> timed calls, each between its own pair of CUDA
/// events (as the peers script does), and returns the median in microseconds.
/// </summary>
/// <remarks>
/// Every call runs inside its own dispose scope, disposed after the clock stopped: without it the tensors of each
/// call live until the .NET GC finalizes them, GPU memory fills, and the caching allocator's cudaMalloc/cudaFree
/// get timed instead of kernels. Tensors made by autograd on libtorch's CUDA worker thread (the gradients that
/// backward returns) are outside any scope; <paramref name="between"/> steps may collect them (see
/// <see cref="CollectGarbage"/>), outside the timed interval.
/// </remarks>
internal sealed class StepTimer(BenchDevice device, int warmup, int repeats)
{
    public int Warmup { get; } = warmup >= 0 ? warmup : throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "must be ≥ 0");

    public int Repeats { get; } = repeats >= 1 ? repeats : throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "must be ≥ 1");

    /// <param name="step">The work to time (queued on the device's default stream).</param>
    /// <param name="between">Untimed preparation before every call (clear gradients, collect garbage), or null.</param>
    public double MedianMicroseconds(Action step, Action? between = null)
    {
        for (int i = 0; i < Warmup; i++)
        {
            between?.Invoke();
            using var scope = NewDisposeScope();
            step();
        }
        device.Synchronize();
        var samples = new double[Repeats];
        for (int i = 0; i < Repeats; i++)
        {
            between?.Invoke();
            device.Synchronize();
            using var scope = NewDisposeScope();
            device.StartClock();
            step();
            samples[i] = device.StopClockMicroseconds();
        }
        return Median(samples);
    }

    public static double Median(double[] samples)
    {
        var sorted = samples.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>Runs finalizers of unreachable tensor wrappers (e.g. gradients returned on the autograd worker
    /// thread), which hands their GPU memory back to the caching allocator.</summary>
    public static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
