using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// Times one step: warm-up calls, then <see cref="Repeats"/> samples, each <see cref="CallsPerSample"/> calls back
/// to back between one pair of CUDA events (after one untimed call), and returns the median time per call in
/// microseconds.
/// </summary>
/// <remarks>
/// <para>Several calls per event pair measure the device, not the host: the host queues the next call while the
/// GPU runs the previous one, so launch overhead only counts where it exceeds the kernel time. For the first timed
/// call the same holds only because an untimed call is queued before the start event: the GPU runs it while the
/// host prepares the first timed call (validation, allocation, the autograd engine), where otherwise that
/// preparation would count once a sample. It did: the unpermute kernel alone at Mixtral width, 70 µs on the GPU, read
/// 76.8 µs a call with 10 calls a sample and 73.4 µs with 200 (H100; docs/benchmarks.md). The peers script times its
/// calls the same way. On the CPU nothing is queued (the host's work is the work), so no untimed call runs there.</para>
/// <para>Every sample runs inside its own dispose scope, disposed after the clock stopped: without it the tensors
/// of each call live until the .NET GC finalizes them, GPU memory fills, and the caching allocator's
/// cudaMalloc/cudaFree get timed instead of kernels. Tensors made by autograd on libtorch's CUDA worker thread
/// (the gradients that backward returns) are outside any scope: when a step has a <c>reset</c> (drop the
/// gradients, host only), the garbage is collected before each sample, outside the timed interval.</para>
/// <para>The warm-up lasts at least <see cref="Warmup"/> calls and at least <see cref="MinWarmupTime"/>: .NET's tiered
/// JIT promotes a method to optimised code after 30 calls counted once no new method has been compiled for 100 ms,
/// in the background, so a short warm-up left host-bound steps (the routing ops) timed while their host code was
/// being replaced: the same fused permute with probs, forward+backward, measured 341 and 513 µs in two runs on one
/// H100 machine and 1380 µs on another.</para>
/// </remarks>
internal sealed class StepTimer(BenchDevice device, int warmup, int repeats, int callsPerSample)
{
    public int Warmup { get; } = warmup >= 0 ? warmup : throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "must be ≥ 0");

    public int Repeats { get; } = repeats >= 1 ? repeats : throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "must be ≥ 1");

    public int CallsPerSample { get; } = callsPerSample >= 1 ? callsPerSample : throw new ArgumentOutOfRangeException(nameof(callsPerSample), callsPerSample, "must be ≥ 1");

    /// <summary>The least wall time of a warm-up on a CUDA device (see the remarks).</summary>
    public static readonly TimeSpan MinWarmupTime = TimeSpan.FromMilliseconds(400);

    /// <param name="step">The work to time (queued on the device's default stream).</param>
    /// <param name="reset">Host-only preparation before every call (drop gradients), or null.</param>
    public double MedianMicroseconds(Action step, Action? reset = null)
    {
        var warming = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < Warmup || (device.IsCuda && warming.Elapsed < MinWarmupTime); i++)
        {
            reset?.Invoke();
            using var scope = NewDisposeScope();
            step();
            if (device.IsCuda && i % 16 == 15)
            {
                // Keep the queue short while warming by time, and hand back the gradients autograd made outside the
                // scopes (see above): hundreds of calls would otherwise fill the GPU with them.
                device.Synchronize();
                if (reset is not null) CollectGarbage();
            }
        }
        device.Synchronize();
        var samples = new double[Repeats];
        for (int i = 0; i < Repeats; i++)
        {
            if (reset is not null) CollectGarbage();
            device.Synchronize();
            using var scope = NewDisposeScope();
            if (device.IsCuda)
            {
                reset?.Invoke();
                step();                                   // untimed: keeps the GPU busy past the start event (remarks)
            }
            device.StartClock();
            for (int c = 0; c < CallsPerSample; c++)
            {
                reset?.Invoke();
                step();
            }
            samples[i] = device.StopClockMicroseconds() / CallsPerSample;
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
