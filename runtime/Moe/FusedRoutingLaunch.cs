using System;
using MoeOpGen.Cuda;

namespace MoeOpGen.Moe;

/// <summary>One launch of a fused routing kernel, planned but not yet run.</summary>
/// <remarks>
/// Planning is kept apart from launching so that tests without a GPU can check every plan against the kernels'
/// source and PTX: that each argument's name is the kernel parameter's name in the same position, and that its
/// width is the parameter's width. A wrong order or a missing argument is otherwise found only on a GPU, as
/// garbage or a crash.
/// </remarks>
/// <param name="Kernel">The <c>extern "C"</c> name in <see cref="FusedRoutingCudaSource"/>.</param>
/// <param name="Grid">Blocks (at least 1; a plan is only made when there is work).</param>
/// <param name="Block">Threads per block.</param>
/// <param name="SharedBytes">Dynamic shared memory per block.</param>
/// <param name="Arguments">The kernel's arguments in order, each with its parameter name in the source.</param>
internal sealed record FusedRoutingLaunch(
    string Kernel, uint Grid, uint Block, uint SharedBytes, (string Parameter, KernelArg Value)[] Arguments)
{
    /// <summary>Runs the launch on device <paramref name="deviceIndex"/> (legacy default stream; the primary context
    /// is made current by <see cref="CudaFunction.Launch(uint, uint, uint, KernelArg[])"/>, which matters because
    /// backward runs on libtorch's worker thread).</summary>
    public void Run(int deviceIndex)
    {
        var values = new KernelArg[Arguments.Length];
        for (int i = 0; i < values.Length; i++)
            values[i] = Arguments[i].Value;
        CudaKernels.GetFunction(FusedRoutingCudaSource.Module, Kernel, deviceIndex).Launch(Grid, Block, SharedBytes, values);
    }

    public override string ToString()
        => $"{Kernel}<<<{Grid}, {Block}, {SharedBytes}>>>({string.Join(", ", Array.ConvertAll(Arguments, a => $"{a.Parameter}={a.Value}"))})";
}
