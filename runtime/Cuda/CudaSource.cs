using System;
using System.Collections.Generic;

namespace MoeOpGen.Cuda;

/// <summary>
/// One CUDA module: the source of every kernel of one operator, compiled as a unit. The cache key covers
/// <see cref="ModuleName"/>, <see cref="Code"/> and <see cref="Options"/>, so identical sources share a binary
/// and any edit gets a new one.
/// </summary>
/// <param name="ModuleName">A short name, used as the NVRTC program name in compile errors, e.g. <c>quick_geglu</c>.</param>
/// <param name="Code">The CUDA C++ source (header-free: NVRTC resolves no CUDA headers).</param>
public sealed record CudaSource(string ModuleName, string Code)
{
    /// <summary>The module name, non-blank.</summary>
    public string ModuleName { get; init; } = string.IsNullOrWhiteSpace(ModuleName)
        ? throw new ArgumentException("A CUDA module needs a non-blank name.", nameof(ModuleName))
        : ModuleName;

    /// <summary>The CUDA source, non-empty.</summary>
    public string Code { get; init; } = string.IsNullOrEmpty(Code)
        ? throw new ArgumentException("A CUDA module needs source code.", nameof(Code))
        : Code;

    /// <summary>NVRTC options other than the architecture (chosen per device); <see cref="NvrtcCompiler.DefaultOptions"/>
    /// unless set. Compared by reference in record equality; the cache compares their content.</summary>
    public IReadOnlyList<string> Options
    {
        get => _options;
        init => _options = value ?? throw new ArgumentNullException(nameof(Options));
    }

    private readonly IReadOnlyList<string> _options = NvrtcCompiler.DefaultOptions;
}
