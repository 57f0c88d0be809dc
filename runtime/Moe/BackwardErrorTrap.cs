using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Keeps exceptions out of custom autograd <c>backward</c> callbacks. TorchSharp calls them from native code, where
/// an exception terminates the process and cannot be caught around <c>.backward()</c> (torchsharp-notes B4).
/// </summary>
/// <remarks>
/// <see cref="Run"/> catches the exception, records it in <see cref="Engines.BackwardFailures"/> (the one store the
/// operators use too, so <c>BackwardFailures.ThrowIfAny()</c> surfaces routing failures as well) and returns no
/// gradients (<c>null</c> for every input); the next routing call rethrows it through <see cref="ThrowPending"/>.
/// </remarks>
internal static class BackwardErrorTrap
{
    /// <summary>Runs a backward body; on failure records the error and returns <paramref name="inputCount"/> nulls.</summary>
    public static List<Tensor> Run(string functionName, int inputCount, Func<List<Tensor>> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex)
        {
            var failure = new InvalidOperationException(
                $"The backward pass of {functionName} failed, so its inputs received no gradient from it.", ex);
            Engines.BackwardFailures.Record(failure);
            return Enumerable.Repeat<Tensor>(null!, inputCount).ToList();
        }
    }

    /// <summary>Rethrows (once) a failure recorded by <see cref="Run"/> since the last call.</summary>
    public static void ThrowPending() => Engines.BackwardFailures.ThrowIfAny();

    /// <summary>Whether a gradient handed to a backward callback carries data (with <c>set_materialize_grads(false)</c>
    /// an output that received no gradient arrives as an invalid or null tensor).</summary>
    public static bool IsPresent(Tensor? grad) => grad is not null && !grad.IsInvalid;
}
