using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using MoeOpGen.Cuda;

namespace MoeOpGen.Bench;

/// <summary>
/// One call into the runtime's kernel-load path timed whole and by phase (<see cref="KernelLoadPhases"/>: compile
/// unit, content key, disk read, NVRTC compile, disk write, cuModuleLoadData, cuModuleGetFunction). What the
/// phases do not cover is <see cref="UnattributedMs"/>: .NET JIT compilation of the path on its first call, the
/// runtime's lazily created objects (the shared cache and registry, the device), dictionary work.
/// </summary>
internal sealed record LoadTiming(double TotalMs, IReadOnlyDictionary<string, double> PhasesMs, long MajorPageFaults)
{
    public double UnattributedMs => Math.Round(TotalMs - PhasesMs.Values.Sum(), 2);

    /// <summary>Runs <paramref name="load"/> on this thread with a phase listener installed.</summary>
    public static LoadTiming Measure(Action load)
    {
        var phases = new Dictionary<string, double>(StringComparer.Ordinal);
        void Record(string phase, double ms) => phases[phase] = phases.GetValueOrDefault(phase) + ms;
        // One untimed call, so that JIT-compiling the listener is not charged to the first phase it hears.
        Record("", 0);
        phases.Clear();
        KernelLoadPhases.ThreadListener = Record;
        long faults = PageFaults.Major();
        var clock = Stopwatch.StartNew();
        try
        {
            load();
        }
        finally
        {
            clock.Stop();
            KernelLoadPhases.ThreadListener = null;
        }
        long faultsAfter = PageFaults.Major();
        return new LoadTiming(
            Math.Round(clock.Elapsed.TotalMilliseconds, 2),
            phases.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 3)),
            faults < 0 || faultsAfter < 0 ? -1 : faultsAfter - faults);
    }

    /// <summary>The phases and the unattributed rest, milliseconds, as one JSON object.</summary>
    public Dictionary<string, double> PhasesWithRest() =>
        new(PhasesMs) { ["unattributed"] = UnattributedMs };
}
