using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MoeOpGen.Cuda;

/// <summary>
/// NVRTC rejected a CUDA source. The message holds the compiler log, the options and the source with line
/// numbers (the log's <c>name(line)</c> references point into it), as CuPy's compile errors do.
/// </summary>
public sealed class CudaCompileException : CudaException
{
    internal CudaCompileException(string moduleName, string source, IReadOnlyList<string> options, string log,
                                  int errorCode, string errorName)
        : base(FormatMessage(moduleName, source, options, log, errorName))
    {
        ModuleName = moduleName;
        Source = source;
        Options = options;
        Log = log;
        NvrtcErrorCode = errorCode;
        NvrtcErrorName = errorName;
    }

    /// <summary>The program name given to NVRTC (it prefixes the log's locations).</summary>
    public string ModuleName { get; }

    /// <summary>The CUDA source as given.</summary>
    public new string Source { get; }

    /// <summary>Every option passed to NVRTC, the target architecture included.</summary>
    public IReadOnlyList<string> Options { get; }

    /// <summary>The NVRTC program log.</summary>
    public string Log { get; }

    /// <summary>The <c>nvrtcResult</c> of <c>nvrtcCompileProgram</c>.</summary>
    public int NvrtcErrorCode { get; }

    /// <summary>Its name, e.g. <c>NVRTC_ERROR_COMPILATION</c>.</summary>
    public string NvrtcErrorName { get; }

    /// <summary>The source with each line prefixed by its 1-based number, padded to a common width.</summary>
    public static string NumberLines(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var lines = source.Replace("\r\n", "\n").Split('\n');
        int width = lines.Length.ToString(CultureInfo.InvariantCulture).Length;
        var text = new StringBuilder(source.Length + lines.Length * (width + 3));
        for (int i = 0; i < lines.Length; i++)
        {
            text.Append((i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(width))
                .Append(" | ")
                .Append(lines[i].TrimEnd())
                .Append('\n');
        }
        return text.ToString();
    }

    private static string FormatMessage(string moduleName, string source, IReadOnlyList<string> options,
                                        string log, string errorName)
    {
        var nl = Environment.NewLine;
        return $"NVRTC could not compile CUDA module '{moduleName}' ({errorName})." + nl
             + "----- NVRTC log -----" + nl + log.TrimEnd() + nl
             + "----- Options -----" + nl + string.Join(' ', options) + nl
             + $"----- Source ({moduleName}) -----" + nl + NumberLines(source)
             + "-----";
    }
}
