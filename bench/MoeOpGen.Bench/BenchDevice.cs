using System;
using System.Diagnostics;
using MoeOpGen.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Bench;

/// <summary>
/// Where the bench runs: CUDA device 0 (timed with CUDA events on the legacy default stream, the one TorchSharp
/// and the kernels use) or, for a dry run on a machine without a GPU, the CPU (timed with a Stopwatch).
/// </summary>
internal sealed class BenchDevice : IDisposable
{
    private readonly CudaStopwatch? _events;
    private readonly Stopwatch _stopwatch = new();

    private BenchDevice(Device device, CudaStopwatch? events, string name)
    {
        Device = device;
        _events = events;
        Name = name;
    }

    public Device Device { get; }

    public bool IsCuda => _events is not null;

    /// <summary>A description for reports, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" or "CPU (Stopwatch timing)".</summary>
    public string Name { get; }

    /// <summary>"cuda" or "cpu" (the <c>--device</c> option).</summary>
    public static BenchDevice Open(string kind)
    {
        switch (kind.ToLowerInvariant())
        {
            case "cpu":
                return new BenchDevice(CPU, null, $"CPU ({Environment.ProcessorCount} threads, Stopwatch timing)");
            case "cuda":
                // IsAvailable never throws: it is false without a driver, a device or a CUDA-capable libtorch.
                if (!CudaKernels.IsAvailable)
                    throw new BenchRefusedException("No CUDA device is usable here (driver, device and a CUDA libtorch are needed; "
                        + "the GPU bundle's run.sh sets LD_LIBRARY_PATH to PyTorch's libtorch). Use --device cpu for a dry run.");
                var (major, minor) = CudaKernels.ComputeCapability(0);
                var name = $"{DeviceName()} (sm_{major}{minor}, {CudaKernels.MultiprocessorCount(0)} SMs)";
                return new BenchDevice(torch.CUDA, new CudaStopwatch(0), name);
            default:
                throw new ArgumentException($"--device must be cuda or cpu; it is '{kind}'.", nameof(kind));
        }
    }

    /// <summary>Starts a timed interval after the work queued so far.</summary>
    public void StartClock()
    {
        if (_events is not null) _events.Start();
        else _stopwatch.Restart();
    }

    /// <summary>Ends the interval, waits for the device and returns its length in microseconds.</summary>
    public double StopClockMicroseconds()
    {
        if (_events is not null) return _events.Stop() * 1000.0;
        _stopwatch.Stop();
        return _stopwatch.Elapsed.TotalMicroseconds;
    }

    public void Synchronize()
    {
        if (IsCuda) torch.cuda.synchronize(Device);
    }

    public void Dispose() => _events?.Dispose();

    /// <summary>The GPU's marketing name from nvidia-smi if present (TorchSharp 0.107 has no get_device_name).</summary>
    private static string DeviceName()
    {
        try
        {
            using var smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name,driver_version --format=csv,noheader -i 0")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (smi is null) return "CUDA device 0";
            string line = smi.StandardOutput.ReadLine()?.Trim() ?? "";
            smi.WaitForExit(5000);
            return line.Length > 0 ? line.Replace(", ", ", driver ") : "CUDA device 0";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "CUDA device 0";   // no nvidia-smi: the name is cosmetic
        }
    }
}

/// <summary>The bench cannot run here (e.g. no CUDA device); the message says why. Exit status 2.</summary>
internal sealed class BenchRefusedException(string message) : Exception(message);
