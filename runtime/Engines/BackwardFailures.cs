using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace MoeOpGen.Engines;

/// <summary>
/// An exception thrown inside a TorchSharp autograd <c>backward</c> kills the process (torchsharp-notes B4), so
/// MoeOpGen's backward functions catch it, return no gradients and record it here; it is rethrown by the next
/// MoeOpGen call, or at once by <see cref="ThrowIfAny"/> after <c>backward()</c> returns.
/// </summary>
public static class BackwardFailures
{
    private static ExceptionDispatchInfo? s_pending;

    /// <summary>Records a failure from inside backward (the first one wins until rethrown).</summary>
    internal static void Record(Exception exception)
        => Interlocked.CompareExchange(ref s_pending, ExceptionDispatchInfo.Capture(exception), null);

    /// <summary>Rethrows, once, the failure of an earlier backward, with its original stack trace.</summary>
    public static void ThrowIfAny() => Interlocked.Exchange(ref s_pending, null)?.Throw();
}
