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
    private readonly string _moduleName = ValidName(ModuleName);
    private readonly string _code = ValidCode(Code);
    private readonly IReadOnlyList<string> _options = NvrtcCompiler.DefaultOptions;

    /// <summary>The module name, non-blank.</summary>
    public string ModuleName
    {
        get => _moduleName;
        init => _moduleName = ValidName(value);
    }

    /// <summary>The CUDA source, non-empty.</summary>
    public string Code
    {
        get => _code;
        init => _code = ValidCode(value);
    }

    /// <summary>NVRTC options other than the architecture (chosen per device); <see cref="NvrtcCompiler.DefaultOptions"/>
    /// unless set. Compared by reference in record equality; the cache compares their content.</summary>
    public IReadOnlyList<string> Options
    {
        get => _options;
        init => _options = value ?? throw new ArgumentNullException(nameof(Options));
    }

    private static string ValidName(string name) => string.IsNullOrWhiteSpace(name)
        ? throw new ArgumentException("A CUDA module needs a non-blank name.", nameof(ModuleName))
        : name;

    private static string ValidCode(string code) => string.IsNullOrEmpty(code)
        ? throw new ArgumentException("A CUDA module needs source code.", nameof(Code))
        : code;
}
