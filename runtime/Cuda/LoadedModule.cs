using System;
using System.Collections.Concurrent;
using System.Threading;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>A module image loaded into one device's primary context, with its function handles.
/// Never unloaded: kernels stay valid for the life of the process.</summary>
internal sealed class LoadedModule
{
    private readonly ConcurrentDictionary<string, LoadedFunction> _functions = new(StringComparer.Ordinal);
    private readonly IntPtr _handle;

    public unsafe LoadedModule(CompiledKernel image, CudaDevice device, string moduleName)
    {
        Device = device;
        ModuleName = moduleName;
        var bytes = image.Image;
        // The driver reads PTX up to a NUL; NVRTC's PTX has one, but a hand-made image might not.
        if (image.Kind == KernelImageKind.Ptx && (bytes.Length == 0 || bytes[^1] != 0)) bytes = [.. bytes, 0];
        device.MakeCurrent();
        IntPtr module;
        long started = KernelLoadPhases.Start();
        fixed (byte* p = bytes)
            CudaDriver.Check(cuModuleLoadData(out module, p), nameof(cuModuleLoadData));
        KernelLoadPhases.Stop(started, KernelLoadPhases.ModuleLoad);
        _handle = module;
    }

    public CudaDevice Device { get; }

    public string ModuleName { get; }

    /// <summary>The kernel <paramref name="kernelName"/> (an <c>extern "C"</c> name) of this module.</summary>
    public LoadedFunction GetFunction(string kernelName) => _functions.GetOrAdd(kernelName, name =>
    {
        Device.MakeCurrent();
        long started = KernelLoadPhases.Start();
        int result = cuModuleGetFunction(out IntPtr function, _handle, name);
        KernelLoadPhases.Stop(started, KernelLoadPhases.GetFunction);
        if (result != CUDA_SUCCESS)
            throw CudaDriver.Error(result, nameof(cuModuleGetFunction),
                $"No kernel '{name}' in module '{ModuleName}'; kernels must be declared extern \"C\" __global__");
        return new LoadedFunction(function, Device, name, ModuleName);
    });
}

/// <summary>One kernel handle and what has been set on it.</summary>
internal sealed class LoadedFunction(IntPtr handle, CudaDevice device, string name, string moduleName)
{
    /// <summary>The dynamic shared memory a kernel may use without opting in.</summary>
    private const int DefaultDynamicSharedLimit = 48 * 1024;

    private readonly object _attributeLock = new();
    // Occupancy per launch shape: a few shapes per kernel, scanned; copied on add so lookups need no lock. Not a
    // dictionary keyed by (uint, uint): framework generics over value types (even over a struct of ours) have no
    // ReadyToRun code in any image, so a new process JIT-compiled that dictionary on its first launch (docs/gpu.md
    // "First kernel of a process"); a class key would allocate on every launch (OneWaveGrid).
    private ResidentBlocks[] _residentBlocks = [];
    private int _maxThreadsPerBlock;   // 0 until asked (not a Lazy<int>, a framework generic over a value type)
    private int _dynamicSharedLimit = DefaultDynamicSharedLimit;

    public IntPtr Handle { get; } = handle;

    public CudaDevice Device { get; } = device;

    public string Name { get; } = name;

    public string ModuleName { get; } = moduleName;

    /// <summary>Raises the kernel's dynamic shared memory limit to <paramref name="bytes"/> when it is above the
    /// current one (CUDA requires this opt-in for more than 48 KiB).</summary>
    public void EnsureDynamicSharedMemory(uint bytes)
    {
        if (bytes <= (uint)Volatile.Read(ref _dynamicSharedLimit)) return;
        if (bytes > (uint)Device.MaxSharedMemoryPerBlockOptIn)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                $"Kernel '{Name}' asks for {bytes} bytes of dynamic shared memory; device {Device.Index} allows at most "
                + $"{Device.MaxSharedMemoryPerBlockOptIn} per block.");
        // Serialized so that a caller raising the limit is never undone by a slower caller setting a lower one.
        lock (_attributeLock)
        {
            if (bytes <= (uint)_dynamicSharedLimit) return;
            CudaDriver.Check(cuFuncSetAttribute(Handle, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)bytes),
                             nameof(cuFuncSetAttribute));
            Volatile.Write(ref _dynamicSharedLimit, (int)bytes);
        }
    }

    /// <summary>The most threads a block of this kernel may have: 1024, or fewer when its registers per thread do
    /// not fit 1024 threads on a multiprocessor (a launch above it fails with CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES).</summary>
    public int MaxThreadsPerBlock
    {
        get
        {
            int threads = Volatile.Read(ref _maxThreadsPerBlock);
            if (threads > 0) return threads;
            // Threads racing here ask the driver each, and get the same answer: no need to ask once only.
            Device.MakeCurrent();
            CudaDriver.Check(cuFuncGetAttribute(out threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, Handle), nameof(cuFuncGetAttribute));
            Volatile.Write(ref _maxThreadsPerBlock, threads);
            return threads;
        }
    }

    /// <summary>How many blocks of <paramref name="blockSize"/> threads using <paramref name="dynamicSharedBytes"/>
    /// of dynamic shared memory fit on one multiprocessor at once (registers, shared memory and warps all
    /// counted), as the driver's occupancy calculator says; memoised per shape.</summary>
    public int ResidentBlocksPerMultiprocessor(uint blockSize, uint dynamicSharedBytes)
    {
        int found = Find(Volatile.Read(ref _residentBlocks), blockSize, dynamicSharedBytes);
        if (found > 0) return found;
        // Serialized: the shape is asked once, and no add is lost to a racing one.
        lock (_attributeLock)
        {
            var shapes = _residentBlocks;
            found = Find(shapes, blockSize, dynamicSharedBytes);
            if (found > 0) return found;
            Device.MakeCurrent();
            if (dynamicSharedBytes > 0) EnsureDynamicSharedMemory(dynamicSharedBytes);
            CudaDriver.Check(cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, Handle, (int)blockSize, dynamicSharedBytes),
                             nameof(cuOccupancyMaxActiveBlocksPerMultiprocessor));
            blocks = Math.Max(blocks, 1);
            var grown = new ResidentBlocks[shapes.Length + 1];
            shapes.CopyTo(grown, 0);
            grown[^1] = new ResidentBlocks(blockSize, dynamicSharedBytes, blocks);
            Volatile.Write(ref _residentBlocks, grown);
            return blocks;
        }
    }

    /// <summary>The resident blocks recorded for the shape, or 0 when it is not recorded (a recorded shape has at
    /// least 1).</summary>
    private static int Find(ResidentBlocks[] shapes, uint blockSize, uint dynamicSharedBytes)
    {
        foreach (var known in shapes)
            if (known.BlockSize == blockSize && known.DynamicSharedBytes == dynamicSharedBytes) return known.Blocks;
        return 0;
    }

    /// <summary>The occupancy of one launch shape.</summary>
    private sealed class ResidentBlocks(uint blockSize, uint dynamicSharedBytes, int blocks)
    {
        public uint BlockSize { get; } = blockSize;

        public uint DynamicSharedBytes { get; } = dynamicSharedBytes;

        public int Blocks { get; } = blocks;
    }
}
