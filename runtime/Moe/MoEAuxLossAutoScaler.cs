using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Attaches an auxiliary loss (load balancing, z-loss) to an activation without adding it to the main loss:
/// <see cref="Apply"/> is the identity on the activation, and when the activation's gradient flows back it injects
/// <c>∂L/∂auxLoss = MainLossBackwardScale</c> into the aux loss. Megatron's <c>MoEAuxLossAutoScaler</c>.
/// </summary>
/// <remarks>
/// Use the returned tensor downstream. If it is discarded, no aux gradient flows (NeMo AutoModel issue #1408).
/// The scale is process-wide (a static), as in the reference.
/// </remarks>
public static class MoEAuxLossAutoScaler
{
    private static readonly object ScaleLock = new();
    private static Tensor? scale;

    /// <summary>Returns <paramref name="output"/> unchanged (a new handle on the same data). Its backward passes
    /// <c>grad_output</c> through and gives <paramref name="auxLoss"/> the gradient <c>ones_like(auxLoss) · scale</c>.</summary>
    /// <param name="output">The activation the aux loss rides on (e.g. the routing weights).</param>
    /// <param name="auxLoss">The aux loss, usually a scalar, already multiplied by its coefficient.</param>
    /// <exception cref="ArgumentException">A floating-point <paramref name="auxLoss"/> is required.</exception>
    public static Tensor Apply(Tensor output, Tensor auxLoss)
    {
        BackwardErrorTrap.ThrowPending();
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(auxLoss);
        if (!auxLoss.is_floating_point())
            throw new ArgumentException($"auxLoss must be a floating-point tensor, but is {auxLoss.dtype}.", nameof(auxLoss));
        return AuxLossScalerFunction.Apply(output, auxLoss);
    }

    /// <summary>The scale injected as the aux loss's gradient. It is <c>null</c> until
    /// <see cref="SetLossScale"/> is called, which means 1.0; the reference sets a tensor 1.0 lazily on the first
    /// backward. The tensor belongs to this class: do not dispose it.</summary>
    public static Tensor? MainLossBackwardScale
    {
        get { lock (ScaleLock) return scale; }
    }

    /// <summary>
    /// Sets the scale (Megatron's <c>set_loss_scale</c>). The first call stores a private copy, detached from
    /// every dispose scope, so the caller's scope cannot free it. Later calls <c>copy_</c> the new value into that
    /// same tensor in place, so its storage stays put (CUDA-graph safe) and the tensor returned by
    /// <see cref="MainLossBackwardScale"/> keeps seeing the current value. The reference stores the caller's tensor
    /// object itself, so its in-place updates reach that tensor too.
    /// </summary>
    /// <param name="scale">A one-element floating-point tensor (e.g. <c>loss_scale · cp_size / num_microbatches</c>).</param>
    /// <exception cref="ArgumentException"><paramref name="scale"/> is not a one-element floating-point tensor.</exception>
    public static void SetLossScale(Tensor scale)
    {
        ArgumentNullException.ThrowIfNull(scale);
        if (scale.numel() != 1 || !scale.is_floating_point())
            throw new ArgumentException(
                $"scale must be a one-element floating-point tensor, but is {scale.dtype} {RoutingArguments.Shape(scale)}.", nameof(scale));
        lock (ScaleLock)
        {
            using var noGrad = no_grad();
            if (MoEAuxLossAutoScaler.scale is null)
                MoEAuxLossAutoScaler.scale = scale.detach().clone().DetachFromDisposeScope();
            else
                MoEAuxLossAutoScaler.scale.copy_(scale.detach().reshape(MoEAuxLossAutoScaler.scale.shape));
        }
    }

    /// <summary>Forgets the scale (back to "unset", i.e. 1.0). For tests of this static state.</summary>
    internal static void ResetLossScale()
    {
        lock (ScaleLock)
        {
            scale?.Dispose();
            scale = null;
        }
    }

    /// <summary>The gradient for an aux loss of the given shape, dtype and device: <c>ones · scale</c>.</summary>
    internal static Tensor AuxLossGradient(long[] shape, ScalarType dtype, Device device)
    {
        lock (ScaleLock)
        {
            var ones = torch.ones(shape, dtype, device);
            return scale is null ? ones : ones * scale.to(dtype, device).reshape(Array.Empty<long>());
        }
    }
}
