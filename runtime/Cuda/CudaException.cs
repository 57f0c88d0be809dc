using System;

namespace MoeOpGen.Cuda;

/// <summary>
/// A CUDA driver API or NVRTC call returned an error. The message names the failing call and the
/// library's error name and description, e.g.
/// <c>cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1): invalid argument</c>.
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates an exception for a failed native call.</summary>
    /// <param name="call">The native function that failed, e.g. <c>cuModuleLoadData</c>.</param>
    /// <param name="errorCode">The <c>CUresult</c> or <c>nvrtcResult</c> it returned.</param>
    /// <param name="errorName">The library's name for the code, e.g. <c>CUDA_ERROR_INVALID_VALUE</c>.</param>
    /// <param name="errorDescription">The library's description of the code (may be empty).</param>
    /// <param name="hint">Extra advice appended to the message (may be null).</param>
    public CudaException(string call, int errorCode, string errorName, string errorDescription, string? hint = null)
        : base(FormatMessage(call, errorCode, errorName, errorDescription, hint))
    {
        Call = call;
        ErrorCode = errorCode;
        ErrorName = errorName;
    }

    /// <summary>Creates an exception that is not tied to one native error code.</summary>
    public CudaException(string message) : base(message)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>The native function that failed (empty when not tied to one call).</summary>
    public string Call { get; }

    /// <summary>The <c>CUresult</c> or <c>nvrtcResult</c> it returned.</summary>
    public int ErrorCode { get; }

    /// <summary>The library's name for <see cref="ErrorCode"/>.</summary>
    public string ErrorName { get; }

    private static string FormatMessage(string call, int code, string name, string description, string? hint)
    {
        var text = string.IsNullOrEmpty(description) || description == name
            ? $"{call} failed: {name} ({code})"
            : $"{call} failed: {name} ({code}): {description}";
        return hint is null ? text : text + ". " + hint;
    }
}
