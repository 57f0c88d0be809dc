using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading;

namespace MoeOpGen.Cuda;

/// <summary>
/// Loaded modules per (cache key, device) and kernel handles per (source, kernel, device). The hot path — an
/// engine asking for the same kernel of the same <see cref="CudaSource"/> instance on every call — is two
/// dictionary lookups, with no hashing of the source text: sources are matched by reference there, and only a
/// miss computes the content key.
/// </summary>
internal sealed class CudaModuleRegistry(KernelCache cache)
{
    private static readonly Lazy<CudaModuleRegistry> s_shared =
        new(() => new CudaModuleRegistry(KernelCache.Shared), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly ConcurrentDictionary<(string Key, int Device), Lazy<LoadedModule>> _modules = new();
    private readonly ConditionalWeakTable<CudaSource, ConcurrentDictionary<(string Kernel, int Device), LoadedFunction>> _functions = new();
    private readonly ConditionalWeakTable<CudaSource, ConcurrentDictionary<string, CudaSource>> _units = new();
    private readonly ConcurrentDictionary<int, string> _targets = new();

    /// <summary>The process-wide registry over <see cref="KernelCache.Shared"/>.</summary>
    public static CudaModuleRegistry Shared => s_shared.Value;

    public KernelCache Cache { get; } = cache;

    /// <summary>The kernel <paramref name="kernelName"/> of <paramref name="source"/> on device <paramref name="deviceIndex"/>,
    /// compiling and loading the module on first use.</summary>
    public LoadedFunction GetFunction(CudaSource source, string kernelName, int deviceIndex)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(kernelName);
        var perSource = _functions.GetValue(source, _ => new());
        if (perSource.TryGetValue((kernelName, deviceIndex), out var function)) return function;
        function = GetModule(CompileUnit(source, kernelName), deviceIndex).GetFunction(kernelName);
        return perSource.GetOrAdd((kernelName, deviceIndex), function);
    }

    /// <summary>The source compiled for <paramref name="kernelName"/> (<see cref="CudaSource.CompileUnit"/>), the same
    /// instance on every call for the same <paramref name="source"/> instance, so its content key is computed once.</summary>
    public CudaSource CompileUnit(CudaSource source, string kernelName) => source.CompiledPerKernel
        ? _units.GetValue(source, _ => new(StringComparer.Ordinal)).GetOrAdd(kernelName, name =>
          {
              long started = KernelLoadPhases.Start();
              var unit = source.CompileUnit(name);
              KernelLoadPhases.Stop(started, KernelLoadPhases.CompileUnit);
              return unit;
          })
        : source;

    /// <summary>The module of <paramref name="source"/> loaded on device <paramref name="deviceIndex"/>.</summary>
    public LoadedModule GetModule(CudaSource source, int deviceIndex)
    {
        var device = CudaDevice.Get(deviceIndex);
        var arch = TargetFor(device);
        var image = Cache.GetOrCompile(source, arch, out var key);
        var lazy = _modules.GetOrAdd((key, deviceIndex), _ => new Lazy<LoadedModule>(
            () => new LoadedModule(image, device, source.ModuleName), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _modules.TryRemove(new((key, deviceIndex), lazy));
            throw;
        }
    }

    /// <summary>The architecture compiled for on <paramref name="device"/>: its own as a CUBIN when the compiler
    /// supports it, else PTX (see <see cref="CudaArchitecture.SelectTarget"/>).</summary>
    public string TargetFor(CudaDevice device) => TargetFor(device.Index, device.ComputeCapability);

    /// <inheritdoc cref="TargetFor(CudaDevice)"/>
    /// <remarks>Takes the device's index and compute capability (e.g. 90) rather than the device, so that
    /// <c>bench compile --device cpu</c> can run the same selection without one.</remarks>
    internal string TargetFor(int deviceIndex, int computeCapability) =>
        _targets.TryGetValue(deviceIndex, out var target) ? target : _targets.GetOrAdd(deviceIndex, _ =>
        {
            long started = KernelLoadPhases.Start();
            var selected = CudaArchitecture.SelectTarget(computeCapability, Cache.Compiler.SupportedArchitectures);
            KernelLoadPhases.Stop(started, KernelLoadPhases.Target);
            return selected;
        });
}
