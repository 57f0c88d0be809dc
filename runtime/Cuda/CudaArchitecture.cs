using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace MoeOpGen.Cuda;

/// <summary>Architecture names (<c>sm_90</c>, <c>compute_90</c>) and the choice of what to compile for a device.</summary>
internal static partial class CudaArchitecture
{
    [GeneratedRegex(@"^(sm|compute)_(\d{2,3})[af]?$", RegexOptions.CultureInvariant)]
    private static partial Regex ArchPattern();

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="arch"/> is like <c>sm_80</c> or <c>compute_80</c>.</summary>
    public static KernelImageKind KindOf(string arch, string paramName)
    {
        if (arch is null || !ArchPattern().IsMatch(arch))
            throw new ArgumentException(
                $"Expected a CUDA architecture such as \"sm_80\" (CUBIN) or \"compute_80\" (PTX), got \"{arch}\".", paramName);
        return arch.StartsWith("sm_", StringComparison.Ordinal) ? KernelImageKind.Cubin : KernelImageKind.Ptx;
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
        if (supported.Count == 0 || supported.Contains(computeCapability))
            return "sm_" + computeCapability.ToString(CultureInfo.InvariantCulture);
        var below = supported.Where(a => a <= computeCapability).ToList();
        if (below.Count == 0)
            throw new CudaException(
                $"NVRTC supports the architectures {string.Join(", ", supported)}, none of which runs on a device of "
                + $"compute capability {computeCapability / 10}.{computeCapability % 10}. Use an older NVRTC "
                + $"(set {CudaLibraryResolver.NvrtcOverrideVariable}).");
        return "compute_" + below.Max().ToString(CultureInfo.InvariantCulture);
    }
}
