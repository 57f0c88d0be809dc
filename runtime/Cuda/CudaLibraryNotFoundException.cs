using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeOpGen.Cuda;

/// <summary>
/// A native CUDA library (the driver <c>libcuda</c> or the runtime compiler <c>libnvrtc</c>) could not be
/// loaded. The message lists every place that was tried, in order, and why each failed.
/// </summary>
public sealed class CudaLibraryNotFoundException : DllNotFoundException
{
    internal CudaLibraryNotFoundException(string library, string howToFix, IReadOnlyList<string> attempts)
        : base(FormatMessage(library, howToFix, attempts))
    {
        Library = library;
        SearchedLocations = attempts;
    }

    /// <summary>The library that was looked for, e.g. <c>NVRTC</c>.</summary>
    public string Library { get; }

    /// <summary>Each location tried, with the reason it failed.</summary>
    public IReadOnlyList<string> SearchedLocations { get; }

    private static string FormatMessage(string library, string howToFix, IReadOnlyList<string> attempts) =>
        $"Could not load {library}. {howToFix}{Environment.NewLine}Searched, in order:{Environment.NewLine}"
        + string.Join(Environment.NewLine, attempts.Select(a => "  " + a));
}
