using System;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>
/// Times GPU work on the legacy default stream with a pair of CUDA events, for benchmarks: the time between
/// <see cref="Start"/> and <see cref="Stop"/> as the GPU saw it, excluding host overhead that overlaps it.
/// Not thread-safe.
/// </summary>
public sealed class CudaStopwatch : IDisposable
{
    private readonly CudaDevice _device;
    private IntPtr _start;
    private IntPtr _end;

    /// <summary>Creates the events on device <paramref name="deviceIndex"/>.</summary>
    public CudaStopwatch(int deviceIndex = 0)
    {
        _device = CudaDevice.Get(deviceIndex);
        _device.MakeCurrent();
        CudaDriver.Check(cuEventCreate(out _start, CU_EVENT_DEFAULT), nameof(cuEventCreate));
        try
        {
            CudaDriver.Check(cuEventCreate(out _end, CU_EVENT_DEFAULT), nameof(cuEventCreate));
        }
        catch
        {
            _ = cuEventDestroy(_start);
            throw;
        }
    }

    /// <summary>Records the start event after the work queued so far.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_start == IntPtr.Zero, this);
        _device.MakeCurrent();
        CudaDriver.Check(cuEventRecord(_start, IntPtr.Zero), nameof(cuEventRecord));
    }

    /// <summary>Records the end event, waits for it and returns the milliseconds since <see cref="Start"/>.</summary>
    public float Stop()
    {
        ObjectDisposedException.ThrowIf(_end == IntPtr.Zero, this);
        _device.MakeCurrent();
        CudaDriver.Check(cuEventRecord(_end, IntPtr.Zero), nameof(cuEventRecord));
        CudaDriver.Check(cuEventSynchronize(_end), nameof(cuEventSynchronize));
        CudaDriver.Check(cuEventElapsedTime(out float milliseconds, _start, _end), nameof(cuEventElapsedTime));
        return milliseconds;
    }

    /// <summary>Destroys the events.</summary>
    public void Dispose()
    {
        if (_start == IntPtr.Zero) return;
        _device.MakeCurrent();
        _ = cuEventDestroy(_start);
        _ = cuEventDestroy(_end);
        _start = _end = IntPtr.Zero;
    }
}
