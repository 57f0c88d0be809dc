using System.Collections.Generic;

namespace MoeOpGen.Cuda;

/// <summary>
/// What <see cref="KernelCache"/> needs from a compiler: NVRTC in production (<see cref="NvrtcKernelCompiler"/>),
/// a counting fake in tests, so that the cache's behaviour is testable without NVRTC or a GPU.
/// </summary>
internal interface IKernelCompiler
{
    /// <summary>Identifies the compiler build; part of every cache key (a new NVRTC invalidates old binaries).</summary>
    string Version { get; }

    /// <summary>Real architectures the compiler can emit CUBINs for (e.g. 75, 80, 90); empty when unknown.</summary>
    IReadOnlyList<int> SupportedArchitectures { get; }

    /// <summary>Compiles <paramref name="source"/> for <paramref name="arch"/> or throws <see cref="CudaCompileException"/>.</summary>
    CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options);
}

/// <summary>The production compiler: <see cref="NvrtcCompiler"/>.</summary>
internal sealed class NvrtcKernelCompiler : IKernelCompiler
{
    public static readonly NvrtcKernelCompiler Instance = new();

    public string Version => "nvrtc " + NvrtcCompiler.Version.ToString(2);

    public IReadOnlyList<int> SupportedArchitectures => NvrtcCompiler.SupportedArchitectures;

    public CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options) =>
        NvrtcCompiler.Compile(source, name, arch, options);
}
