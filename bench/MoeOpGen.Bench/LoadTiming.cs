using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime;
using MoeOpGen.Cuda;

namespace MoeOpGen.Bench;

/// <summary>
/// One call into the runtime's kernel-load path timed whole and by phase (<see cref="KernelLoadPhases"/>: compile
/// unit, content key, disk read, NVRTC compile, disk write, cuModuleLoadData, cuModuleGetFunction). What the
/// phases do not cover is <see cref="UnattributedMs"/>: .NET JIT compilation of the path on its first call, the
/// runtime's lazily created objects (the shared cache and registry, the device), dictionary work. Of that rest, the
/// .NET runtime itself tells how much was JIT compilation on this thread (<see cref="JitInfo"/>) and how many
/// assemblies were loaded, so the part left unexplained is what neither covers (type loads, ReadyToRun fixups,
/// static constructors).
/// </summary>
internal sealed record LoadTiming(double TotalMs, IReadOnlyDictionary<string, double> PhasesMs, long MajorPageFaults,
    double JitMs, long JitMethods, int AssembliesLoaded)
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
        int assemblies = AppDomain.CurrentDomain.GetAssemblies().Length;
        long jitMethods = JitInfo.GetCompiledMethodCount(currentThread: true);
        var jitTime = JitInfo.GetCompilationTime(currentThread: true);
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
        // Read before anything below JIT-compiles (the dictionary copies do, on their first call).
        long jitMethodsAfter = JitInfo.GetCompiledMethodCount(currentThread: true);
        var jitTimeAfter = JitInfo.GetCompilationTime(currentThread: true);
        int assembliesAfter = AppDomain.CurrentDomain.GetAssemblies().Length;
        long faultsAfter = PageFaults.Major();
        return new LoadTiming(
            Math.Round(clock.Elapsed.TotalMilliseconds, 2),
            phases.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 3)),
            faults < 0 || faultsAfter < 0 ? -1 : faultsAfter - faults,
            Math.Round((jitTimeAfter - jitTime).TotalMilliseconds, 3),
            jitMethodsAfter - jitMethods,
            assembliesAfter - assemblies);
    }

    /// <summary>The phases and the unattributed rest, milliseconds, as one JSON object.</summary>
    public Dictionary<string, double> PhasesWithRest() =>
        new(PhasesMs) { ["unattributed"] = UnattributedMs };
}
