using System;
using System.Collections.Generic;
using System.Globalization;

namespace MoeOpGen.Cuda;

/// <summary>Architecture names (<c>sm_90</c>, <c>compute_90</c>) and the choice of what to compile for a device.</summary>
/// <remarks>Both run on a new process's first kernel load (issue 3's 5 ms), so they use neither a regular
/// expression (its first use loads System.Text.RegularExpressions and builds the matcher) nor LINQ or interface
/// calls over <c>int</c> (framework generics over a value type have no precompiled code: each was JIT-compiled
/// there, about 0.3 ms a method on the development machine).</remarks>
internal static class CudaArchitecture
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="arch"/> is like <c>sm_80</c> or
    /// <c>compute_80</c>: <c>sm</c> or <c>compute</c>, an underscore, two or three digits, and optionally the
    /// <c>a</c> (architecture-specific) or <c>f</c> (family) suffix of <c>sm_90a</c> / <c>sm_100f</c>.</summary>
    public static KernelImageKind KindOf(string arch, string paramName)
    {
        if (arch is not null && IsVersionWithSuffix(arch, "sm_")) return KernelImageKind.Cubin;
        if (arch is not null && IsVersionWithSuffix(arch, "compute_")) return KernelImageKind.Ptx;
        throw new ArgumentException(
            $"Expected a CUDA architecture such as \"sm_80\" (CUBIN) or \"compute_80\" (PTX), got \"{arch}\".", paramName);
    }

    /// <summary>Whether <paramref name="arch"/> is <paramref name="prefix"/> then "90", "100", "90a", "100f": two
    /// or three ASCII digits, then at most one of 'a' or 'f'.</summary>
    private static bool IsVersionWithSuffix(string arch, string prefix)
    {
        if (!arch.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var text = arch.AsSpan(prefix.Length);
        if (text.Length > 0 && text[^1] is 'a' or 'f') text = text[..^1];
        if (text.Length is < 2 or > 3) return false;
        foreach (char c in text)
            if (c is < '0' or > '9') return false;
        return true;
    }

    /// <summary>
    /// What to compile for a device of compute capability <paramref name="computeCapability"/> (e.g. 90):
    /// a CUBIN for <c>sm_XY</c> when NVRTC supports it; otherwise PTX for the highest supported architecture not
    /// above the device's, which the driver JIT-compiles (PTX runs on its own and every later architecture).
    /// </summary>
    /// <param name="computeCapability">major × 10 + minor.</param>
    /// <param name="supported">NVRTC's supported architectures; empty when unknown (NVRTC older than 11.2), in
    /// which case the device's own is assumed to be supported.</param>
    public static string SelectTarget(int computeCapability, IReadOnlyList<int> supported)
    {
        bool supportsOwn = supported.Count == 0;
        int highestBelow = -1;
        for (int i = 0; i < supported.Count; i++)   // a loop, not LINQ: see the remarks
        {
            int arch = supported[i];
            if (arch == computeCapability) supportsOwn = true;
            else if (arch < computeCapability) highestBelow = Math.Max(highestBelow, arch);
        }
        if (supportsOwn) return "sm_" + computeCapability.ToString(CultureInfo.InvariantCulture);
        if (highestBelow < 0)
            throw new CudaException(
                $"NVRTC supports the architectures {string.Join(", ", supported)}, none of which runs on a device of "
                + $"compute capability {computeCapability / 10}.{computeCapability % 10}. Use an older NVRTC "
                + $"(set {CudaLibraryResolver.NvrtcOverrideVariable}).");
        return "compute_" + highestBelow.ToString(CultureInfo.InvariantCulture);
    }
}
