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

    // Keyed by a class of ours rather than a (string, int) tuple: a framework generic over a value-type key has no
    // precompiled code, and a new process JIT-compiled this dictionary's methods while loading its first kernel.
    // (Only a miss reaches this dictionary, so the key's allocation does not matter.)
    private readonly ConcurrentDictionary<ModuleKey, Lazy<LoadedModule>> _modules = new();
    // Per source, kernels by (device, name) without a value-type key: see PerDeviceTable.
    private readonly ConditionalWeakTable<CudaSource, PerDeviceTable<LoadedFunction>> _functions = new();
    private readonly ConditionalWeakTable<CudaSource, ConcurrentDictionary<string, CudaSource>> _units = new();

    /// <summary>The process-wide registry over <see cref="KernelCache.Shared"/>.</summary>
    public static CudaModuleRegistry Shared => s_shared.Value;

    public KernelCache Cache { get; } = cache;

    /// <summary>The kernel <paramref name="kernelName"/> of <paramref name="source"/> on device <paramref name="deviceIndex"/>,
    /// compiling and loading the module on first use.</summary>
    public LoadedFunction GetFunction(CudaSource source, string kernelName, int deviceIndex)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(kernelName);
        // The first call for a source asks the driver for the device count; a miss would reach the driver anyway.
        var perSource = _functions.GetValue(source, _ => new(CudaDevice.Count));
        if (perSource.TryGetValue(deviceIndex, kernelName, out var function)) return function;
        // GetModule validates deviceIndex (CudaDevice.Get) before anything is stored.
        function = GetModule(CompileUnit(source, kernelName), deviceIndex).GetFunction(kernelName);
        return perSource.GetOrAdd(deviceIndex, kernelName, function);
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
        var moduleKey = new ModuleKey(key, deviceIndex);
        var lazy = _modules.GetOrAdd(moduleKey, _ => new Lazy<LoadedModule>(
            () => new LoadedModule(image, device, source.ModuleName), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _modules.TryRemove(new(moduleKey, lazy));
            throw;
        }
    }

    /// <summary>The architecture compiled for on <paramref name="device"/>: its own as a CUBIN when the compiler
    /// supports it, else PTX (see <see cref="CudaArchitecture.SelectTarget"/>).</summary>
    public string TargetFor(CudaDevice device) => TargetFor(device.ComputeCapability);

    /// <inheritdoc cref="TargetFor(CudaDevice)"/>
    /// <remarks>Takes the device's compute capability (e.g. 90) rather than the device, so that
    /// <c>bench compile --device cpu</c> can run the same selection without one. Not cached per device: once the
    /// compiler's architectures are known (the compiler keeps them) the selection is a few comparisons, and runs only
    /// when a kernel is not yet loaded; an int-keyed dictionary here cost JIT compilation in a new process (no
    /// precompiled code exists for framework generics over int outside the framework's own uses).</remarks>
    internal string TargetFor(int computeCapability)
    {
        // The compiler's architectures first, untimed here: a compiler that resolves them on first use times its own
        // parts (RecordedIdentityCompiler: predict_library, library_identity, identity_record, compiler_load).
        var architectures = Cache.Compiler.SupportedArchitectures;
        long started = KernelLoadPhases.Start();
        var selected = CudaArchitecture.SelectTarget(computeCapability, architectures);
        KernelLoadPhases.Stop(started, KernelLoadPhases.SelectTarget);
        return selected;
    }

    private sealed record ModuleKey(string CacheKey, int Device);
}
