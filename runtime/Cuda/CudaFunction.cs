using System;
using MoeOpGen.Cuda.Interop;
using TorchSharp;
using static MoeOpGen.Cuda.Interop.CudaDriverNative;

namespace MoeOpGen.Cuda;

/// <summary>
/// A kernel loaded on one device, from <see cref="CudaKernels.GetFunction"/>. Launches go to the legacy default
/// stream (stream 0), the stream TorchSharp issues all its work on, so they are ordered with TorchSharp
/// operations before and after them without any synchronization.
/// </summary>
public readonly struct CudaFunction
{
    /// <summary>Arguments up to this count are marshalled on the stack.</summary>
    private const int StackArgumentLimit = 32;

    /// <summary>Floats of by-value float structs up to this count are marshalled on the stack.</summary>
    private const int StackFloatLimit = 128;

    /// <summary>The driver's limit on <c>gridDim.y</c>.</summary>
    public const uint MaxGridY = 65535;

    private readonly LoadedFunction? _function;

    internal CudaFunction(LoadedFunction function) => _function = function;

    /// <summary>The kernel's <c>extern "C"</c> name.</summary>
    public string Name => Loaded.Name;

    /// <summary>The CUDA device the kernel is loaded on.</summary>
    public int DeviceIndex => Loaded.Device.Index;

    /// <summary>The most threads a block of this kernel may have (<c>CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK</c>):
    /// 1024 unless the kernel's registers per thread leave room for fewer.</summary>
    public int MaxThreadsPerBlock => Loaded.MaxThreadsPerBlock;

    /// <summary>
    /// The grid that fills the device exactly once: the multiprocessors × the blocks of this shape that fit on
    /// one at a time (<c>cuOccupancyMaxActiveBlocksPerMultiprocessor</c>), capped at <paramref name="workBlocks"/>.
    /// Grid-stride kernels launched with it run in one wave: a grid of a few waves plus a fraction leaves most
    /// multiprocessors idle during the last, partial wave (measured: 20% of a memory-bound kernel's time).
    /// </summary>
    /// <param name="blockX">Threads per block.</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per block.</param>
    /// <param name="workBlocks">Blocks the work needs at most (e.g. rows, for one row per block); at least 1.</param>
    public uint OneWaveGrid(uint blockX, uint dynamicSharedBytes, long workBlocks)
    {
        var function = Loaded;
        long resident = (long)function.ResidentBlocksPerMultiprocessor(blockX, dynamicSharedBytes) * function.Device.MultiprocessorCount;
        return (uint)Math.Clamp(Math.Min(resident, workBlocks), 1, uint.MaxValue);
    }

    private LoadedFunction Loaded =>
        _function ?? throw new InvalidOperationException("This CudaFunction is default; get one from CudaKernels.GetFunction.");

    /// <summary>Launches a 1-D grid of <paramref name="gridX"/> blocks of <paramref name="blockX"/> threads.</summary>
    /// <param name="gridX">Number of blocks; 0 launches nothing (an empty input needs no work).</param>
    /// <param name="blockX">Threads per block (1 to 1024).</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per block; above 48 KiB the kernel is opted in first.</param>
    /// <param name="args">The kernel's arguments in order; see <see cref="KernelArg"/> for the conversions.</param>
    /// <remarks>This overload serves C# before 13, which cannot call <c>params ReadOnlySpan</c>.</remarks>
    public void Launch(uint gridX, uint blockX, uint dynamicSharedBytes, params KernelArg[] args) =>
        Launch(gridX, blockX, dynamicSharedBytes, (ReadOnlySpan<KernelArg>)(args ?? throw new ArgumentNullException(nameof(args))));

    /// <inheritdoc cref="Launch(uint, uint, uint, KernelArg[])"/>
    public void Launch(uint gridX, uint blockX, uint dynamicSharedBytes, params ReadOnlySpan<KernelArg> args)
        => Launch((gridX, 1u), blockX, dynamicSharedBytes, args);

    /// <summary>Launches a 2-D grid of <c>grid.X × grid.Y</c> blocks of <paramref name="blockX"/> threads (e.g. chunks
    /// of a tensor too large for 32-bit indices inside one chunk, numbered by <c>blockIdx.y</c>).</summary>
    /// <param name="grid">Blocks along x (at most 2³¹ − 1) and y (at most 65535); either 0 launches nothing.</param>
    /// <param name="blockX">Threads per block (1 to 1024).</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per block; above 48 KiB the kernel is opted in first.</param>
    /// <param name="args">The kernel's arguments in order; see <see cref="KernelArg"/> for the conversions.</param>
    public unsafe void Launch((uint X, uint Y) grid, uint blockX, uint dynamicSharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        var function = Loaded;
        if (blockX == 0) throw new ArgumentOutOfRangeException(nameof(blockX), blockX, "A block needs at least one thread.");
        if (grid.Y > MaxGridY) throw new ArgumentOutOfRangeException(nameof(grid), grid, $"A grid has at most {MaxGridY} blocks along y.");
        if (grid.X == 0 || grid.Y == 0) return;
        uint gridX = grid.X;

        int floatCount = 0;
        foreach (var arg in args) floatCount += arg.FloatCount;
        // The driver wants an array of pointers, each to one argument's bytes: 8-byte slots hold scalars and
        // pointers, a float buffer holds by-value float structs. Both live on the stack for ordinary launches.
        Span<long> slots = args.Length <= StackArgumentLimit ? stackalloc long[args.Length] : new long[args.Length];
        Span<IntPtr> pointers = args.Length <= StackArgumentLimit ? stackalloc IntPtr[args.Length] : new IntPtr[args.Length];
        Span<float> floats = floatCount <= StackFloatLimit ? stackalloc float[floatCount] : new float[floatCount];

        fixed (long* slot = slots)
        fixed (IntPtr* pointer = pointers)
        fixed (float* floatBase = floats)
        {
            int floatOffset = 0;
            for (int i = 0; i < args.Length; i++)
            {
                var arg = args[i];
                switch (arg.Kind)
                {
                    case KernelArgKind.Tensor:
                        slot[i] = TensorPointer(arg.Tensor!, i, function);
                        pointer[i] = (IntPtr)(slot + i);
                        break;
                    case KernelArgKind.Floats:
                        var values = arg.Floats!;
                        // A loop, not AsSpan().CopyTo: MemoryExtensions.AsSpan<float> has no ReadyToRun code and was
                        // JIT-compiled on a process's first launch (docs/gpu.md "First kernel of a process").
                        for (int j = 0; j < values.Length; j++) floatBase[floatOffset + j] = values[j];
                        if (values.Length == 0) floatBase[floatOffset] = 0f;
                        pointer[i] = (IntPtr)(floatBase + floatOffset);
                        floatOffset += arg.FloatCount;
                        break;
                    default:
                        // Little-endian: a 4-byte int or float sits in the slot's low bytes, where the pointer points.
                        slot[i] = arg.Bits;
                        pointer[i] = (IntPtr)(slot + i);
                        break;
                }
            }

            function.Device.MakeCurrent();
            if (dynamicSharedBytes > 0) function.EnsureDynamicSharedMemory(dynamicSharedBytes);
            int result = cuLaunchKernel(function.Handle, gridX, grid.Y, 1, blockX, 1, 1, dynamicSharedBytes,
                                        IntPtr.Zero, (void**)pointer, null);
            if (result != CUDA_SUCCESS)
                throw CudaDriver.Error(result, nameof(cuLaunchKernel),
                    $"Kernel '{function.Name}' of module '{function.ModuleName}', grid {gridX}×{grid.Y}, block {blockX}, "
                    + $"{dynamicSharedBytes} bytes of dynamic shared memory, {args.Length} arguments");
        }
    }

    private static long TensorPointer(torch.Tensor tensor, int position, LoadedFunction function)
    {
        if (tensor.device_type != DeviceType.CUDA || tensor.device_index != function.Device.Index)
            throw new ArgumentException(
                $"Argument {position} of kernel '{function.Name}' is a tensor on {tensor.device}, but the kernel runs on "
                + $"cuda:{function.Device.Index}.", "args");
        return LibTorchSharpNative.DataPointer(tensor);
    }
}
