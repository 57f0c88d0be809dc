using System;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace MoeOpGen.Cuda;

/// <summary>
/// Values by (device ordinal, name): one string-keyed dictionary per device, in an array indexed by the ordinal.
/// </summary>
/// <remarks>
/// Why not one dictionary keyed by <c>(string, int)</c>: a framework generic instantiated over a value type has no
/// precompiled code (neither the framework's ReadyToRun images nor ours hold it), so a new process JIT-compiled
/// that dictionary's methods on its first kernel (issue 3, docs/gpu.md "First kernel of a process"). Every type
/// here is a reference type (string keys, class values), whose shared code the framework's images hold. A class
/// key would do the same but allocate on every lookup, and this sits on the launch path: the lookup is an array
/// index plus one string lookup, no allocation.
/// </remarks>
internal sealed class PerDeviceTable<TValue> where TValue : class
{
    private readonly ConcurrentDictionary<string, TValue>[] _byDevice;

    /// <param name="deviceCount">The number of devices (ordinals 0 to count − 1); fixed for a process by the driver.</param>
    public PerDeviceTable(int deviceCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceCount);
        _byDevice = new ConcurrentDictionary<string, TValue>[deviceCount];
        for (int i = 0; i < deviceCount; i++) _byDevice[i] = new(StringComparer.Ordinal);
    }

    public int DeviceCount => _byDevice.Length;

    /// <summary>The value stored for <paramref name="name"/> on <paramref name="device"/>; false (not an exception)
    /// for an ordinal out of range, so callers validate it once, on their miss path.</summary>
    public bool TryGetValue(int device, string name, [MaybeNullWhen(false)] out TValue value)
    {
        if ((uint)device < (uint)_byDevice.Length) return _byDevice[device].TryGetValue(name, out value);
        value = null;
        return false;
    }

    /// <summary>Stores <paramref name="value"/> unless a value is already stored, and returns the stored one (so
    /// racing callers all get the first value stored).</summary>
    public TValue GetOrAdd(int device, string name, TValue value)
    {
        if ((uint)device >= (uint)_byDevice.Length)
            throw new ArgumentOutOfRangeException(nameof(device), device, $"There are {_byDevice.Length} devices.");
        ArgumentNullException.ThrowIfNull(name);
        return _byDevice[device].GetOrAdd(name, value);
    }
}
