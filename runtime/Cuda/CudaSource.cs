using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace MoeOpGen.Cuda;

/// <summary>
/// One CUDA module: the source of every kernel of one operator. The cache key covers <see cref="ModuleName"/>,
/// <see cref="Code"/> and <see cref="Options"/>, so identical sources share a binary and any edit gets a new one.
/// A module is compiled as a whole, unless it is <see cref="CompiledPerKernel"/>.
/// </summary>
/// <param name="ModuleName">A short name, used as the NVRTC program name in compile errors, e.g. <c>quick_geglu</c>.</param>
/// <param name="Code">The CUDA C++ source (header-free: NVRTC resolves no CUDA headers).</param>
public sealed partial record CudaSource(string ModuleName, string Code)
{
    private readonly string _moduleName = ValidName(ModuleName);
    private readonly string _code = ValidCode(Code);
    private readonly IReadOnlyList<string> _options = NvrtcCompiler.DefaultOptions;
    // The stated digest and the code it was stated for (see CodeSha256).
    private readonly string? _codeSha256;
    private readonly string? _codeSha256Of;

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

    /// <summary>
    /// SHA-256 of <see cref="Code"/>'s UTF-8 bytes as 64 lowercase hex digits, stated by the code's author (MoeOpGen's
    /// generator states it for every module it emits), or null. The kernel cache key includes the code's digest; a
    /// stated one spares a new process hashing the source on its first kernel load (about 1 ms for a 90 KB gated
    /// module). It belongs to the code it was stated with: a copy with other code (<c>with { Code = … }</c>) has none.
    /// </summary>
    /// <remarks>Checked against the code before every compilation, so no cache entry is ever written under a wrong
    /// one. A wrong digest stated by hand could still make a warm cache hand back the kernel of the code that really
    /// has that digest: leave it null unless a tool computes it.</remarks>
    /// <exception cref="ArgumentException">Not 64 lowercase hexadecimal digits.</exception>
    public string? CodeSha256
    {
        get => ReferenceEquals(_codeSha256Of, _code) ? _codeSha256 : null;
        init
        {
            if (value is not null && !IsLowercaseSha256Hex(value))
                throw new ArgumentException($"Expected 64 lowercase hexadecimal digits, got \"{value}\".", nameof(CodeSha256));
            _codeSha256 = value;
            _codeSha256Of = _code;
        }
    }

    private static bool IsLowercaseSha256Hex(string text)
    {
        if (text.Length != 64) return false;
        foreach (char c in text)
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }

    /// <summary>NVRTC options other than the architecture (chosen per device); <see cref="NvrtcCompiler.DefaultOptions"/>
    /// unless set. Compared by reference in record equality; the cache compares their content.</summary>
    public IReadOnlyList<string> Options
    {
        get => _options;
        init => _options = value ?? throw new ArgumentNullException(nameof(Options));
    }

    /// <summary>
    /// True when every entry point is guarded by <c>#if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_&lt;name&gt;)</c>
    /// and the runtime compiles each kernel on its own: the unit of kernel <c>k</c> is this source with
    /// <c>-DMOG_KERNEL_k</c>, its own cache entry. Generated modules are (a gated one has about a hundred template
    /// instantiations, which NVRTC takes seconds to compile together, while an application uses a few).
    /// </summary>
    public bool CompiledPerKernel { get; init; }

    /// <summary>The entry points of a <see cref="CompiledPerKernel"/> module, from its guards, in source order;
    /// empty for a module compiled whole (its kernels are whatever the code declares).</summary>
    public IReadOnlyList<string> KernelNames => CompiledPerKernel
        ? KernelGuard().Matches(Code).Select(m => m.Groups[1].Value).Distinct().ToArray()
        : [];

    /// <summary>The source NVRTC compiles to get <paramref name="kernelName"/>: this one, or for a
    /// <see cref="CompiledPerKernel"/> module the unit that defines <c>MOG_KERNEL_&lt;kernelName&gt;</c>.
    /// Callers memoise it (see <c>CudaModuleRegistry</c>); a new instance hashes its source again.</summary>
    /// <remarks>The kernel's guard is looked up as text, not by listing <see cref="KernelNames"/>: this runs on the
    /// first load of every kernel, where a scan of all guards of a hundred-kernel module was wasted work.</remarks>
    /// <exception cref="ArgumentException">A per-kernel module has no entry point named <paramref name="kernelName"/>.</exception>
    public CudaSource CompileUnit(string kernelName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kernelName);
        if (!CompiledPerKernel) return this;
        if (!HasGuard(kernelName))
            throw new ArgumentException($"CUDA module '{ModuleName}' has no kernel named '{kernelName}'.", nameof(kernelName));
        return this with { Options = [.. Options, "-DMOG_KERNEL_" + kernelName], CompiledPerKernel = false };
    }

    /// <summary>Whether a line of the code starts (after indentation) with the guard of <paramref name="kernelName"/>,
    /// the line <see cref="KernelGuard"/> matches.</summary>
    private bool HasGuard(string kernelName)
    {
        string guard = GuardPrefix + kernelName + ")";
        for (int at = Code.IndexOf(guard, StringComparison.Ordinal); at >= 0; at = Code.IndexOf(guard, at + 1, StringComparison.Ordinal))
        {
            int lineStart = at;
            while (lineStart > 0 && Code[lineStart - 1] is ' ' or '\t') lineStart--;
            if (lineStart == 0 || Code[lineStart - 1] == '\n') return true;
        }
        return false;
    }

    private const string GuardPrefix = "#if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_";

    [GeneratedRegex(@"^[ \t]*#if defined\(MOG_ALL_KERNELS\) \|\| defined\(MOG_KERNEL_(\w+)\)", RegexOptions.Multiline)]
    private static partial Regex KernelGuard();

    private static string ValidName(string name) => string.IsNullOrWhiteSpace(name)
        ? throw new ArgumentException("A CUDA module needs a non-blank name.", nameof(ModuleName))
        : name;

    private static string ValidCode(string code) => string.IsNullOrEmpty(code)
        ? throw new ArgumentException("A CUDA module needs source code.", nameof(Code))
        : code;
}
