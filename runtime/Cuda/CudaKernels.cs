using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks;
using TorchSharp;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>
/// Entry point of the CUDA runtime: kernels by (source, name, device), compiled with NVRTC on first use and
/// cached in memory and on disk (directory <c>$MOEOPGEN_CACHE_DIR</c>, else the user's cache directory).
/// </summary>
public static class CudaKernels
{
    /// <summary>
    /// True when CUDA kernels can run on TorchSharp tensors here: the driver loads, a device exists and
    /// TorchSharp reports CUDA as available. Never throws.
    /// </summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                return CudaDevice.Count > 0 && torch.cuda.is_available();
            }
            catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException
                                          or TypeInitializationException or NotSupportedException)
            {
                // DllNotFoundException covers CudaLibraryNotFoundException (no driver); the others are TorchSharp
                // failing to load its native backend. Either way: no CUDA.
                return false;
            }
        }
    }

    /// <summary>The directory of the disk cache, or null when kernels are cached in memory only.</summary>
    public static string? CacheDirectory => KernelCache.Shared.Disk.IsWritable ? KernelCache.Shared.Disk.Directory : null;

    /// <summary>
    /// The kernel <paramref name="kernelName"/> (an <c>extern "C" __global__</c> function) of
    /// <paramref name="source"/>, loaded on device <paramref name="deviceIndex"/>. The first call for a source
    /// compiles it (or loads it from the disk cache); later calls with the same <see cref="CudaSource"/> instance
    /// are two dictionary lookups, so engines may call this on every launch.
    /// </summary>
    /// <exception cref="CudaCompileException">NVRTC rejected the source.</exception>
    /// <exception cref="CudaLibraryNotFoundException">The driver or NVRTC is missing.</exception>
    /// <exception cref="CudaException">A driver call failed, e.g. no kernel of that name.</exception>
    public static CudaFunction GetFunction(CudaSource source, string kernelName, int deviceIndex) =>
        new(CudaModuleRegistry.Shared.GetFunction(source, kernelName, deviceIndex));

    /// <summary>The number of streaming multiprocessors of device <paramref name="deviceIndex"/> (for grid sizing).</summary>
    public static int MultiprocessorCount(int deviceIndex) => CudaDevice.Get(deviceIndex).MultiprocessorCount;

    /// <summary>The compute capability of device <paramref name="deviceIndex"/>, e.g. (9, 0) for an H100.</summary>
    public static (int Major, int Minor) ComputeCapability(int deviceIndex)
    {
        int cc = CudaDevice.Get(deviceIndex).ComputeCapability;
        return (cc / 10, cc % 10);
    }

    /// <summary>Free and total memory of device <paramref name="deviceIndex"/> in bytes, as the driver reports them
    /// (memory held by PyTorch's caching allocator counts as used).</summary>
    public static (ulong Free, ulong Total) MemoryInfo(int deviceIndex)
    {
        CudaDevice.Get(deviceIndex).MakeCurrent();
        CudaDriver.Check(cuMemGetInfo(out nuint free, out nuint total), nameof(cuMemGetInfo));
        return (free, total);
    }

    /// <summary>
    /// Compiles (or loads from the disk cache) and loads the kernels of <paramref name="sources"/> on device
    /// <paramref name="deviceIndex"/> now, in parallel, so that the first training step pays no compile time.
    /// A <see cref="CudaSource.CompiledPerKernel"/> module is warmed kernel by kernel — the same cache entries
    /// its launches use — limited to the names <paramref name="kernels"/> accepts (all when null; e.g.
    /// <c>name =&gt; name.Contains("_bf16")</c>); any other module is compiled whole.
    /// </summary>
    /// <returns>The number of compile units made ready (compiled, or loaded from the disk or memory cache).</returns>
    /// <exception cref="CudaCompileException">A source does not compile (the first failure is thrown as is;
    /// several are wrapped in an <see cref="AggregateException"/>).</exception>
    public static int Precompile(IEnumerable<CudaSource> sources, int deviceIndex = 0, Func<string, bool>? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var list = sources.ToList();
        if (list.Any(s => s is null)) throw new ArgumentException("The sources must not contain null.", nameof(sources));
        _ = CudaDevice.Get(deviceIndex);
        var registry = CudaModuleRegistry.Shared;
        var units = list.Distinct()
                        .SelectMany(source => source.CompiledPerKernel
                            ? source.KernelNames.Where(name => kernels?.Invoke(name) ?? true)
                                    .Select(name => registry.CompileUnit(source, name))
                            : [source])
                        .ToList();
        try
        {
            Parallel.ForEach(units, unit => registry.GetModule(unit, deviceIndex));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return units.Count;
    }

    /// <summary>Precompiles the modules of <paramref name="assembly"/> (see <see cref="SourcesIn"/> and
    /// <see cref="Precompile(IEnumerable{CudaSource}, int, Func{string, bool})"/>).</summary>
    public static int Precompile(Assembly assembly, int deviceIndex = 0, Func<string, bool>? kernels = null)
        => Precompile(SourcesIn(assembly), deviceIndex, kernels);

    /// <summary>
    /// Every CUDA module declared in <paramref name="assembly"/>: the values of the public static properties of
    /// type <see cref="CudaSource"/> on its types marked <see cref="CudaModuleAttribute"/>, ordered by type and
    /// property name. CI can feed them to <see cref="NvrtcCompiler.Compile"/> to check that all kernels compile.
    /// </summary>
    public static IReadOnlyList<CudaSource> SourcesIn(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var sources = new List<CudaSource>();
        foreach (var type in assembly.GetTypes()
                                     .Where(t => t.IsDefined(typeof(CudaModuleAttribute), inherit: false))
                                     .OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Static)
                                         .Where(p => p.PropertyType == typeof(CudaSource) && p.GetMethod is not null)
                                         .OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                sources.Add(property.GetValue(null) as CudaSource
                            ?? throw new InvalidOperationException($"{type.FullName}.{property.Name} returned null."));
            }
        }
        return sources;
    }
}
