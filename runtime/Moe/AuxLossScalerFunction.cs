using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// Autograd function behind <see cref="MoEAuxLossAutoScaler.Apply"/>: forward is the identity on the output;
/// backward returns the output's gradient unchanged and <c>ones_like(auxLoss) · scale</c> for the aux loss.
/// </summary>
/// <remarks>
/// Only the aux loss's shape, dtype and device are kept, not the tensor: that is all backward needs. The
/// reference saves <c>aux_loss.float()</c> and lets autograd cast the gradient back; the gradient is returned
/// in the aux loss's own dtype here.
/// </remarks>
internal sealed class AuxLossScalerFunction : autograd.MultiTensorFunction<AuxLossScalerFunction>
{
    public override string Name => "MoeOpGen.MoEAuxLossAutoScaler";

    /// <summary>Applies the function in its own dispose scope (torchsharp-notes §5) and returns its output.</summary>
    public static Tensor Apply(Tensor output, Tensor auxLoss)
    {
        using var scope = NewDisposeScope();
        return apply(output, auxLoss)[0].MoveToOuterDisposeScope();
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.set_materialize_grads(false);
        var output = (Tensor)vars[0];
        var auxLoss = (Tensor)vars[1];
        ctx.save_data(ShapeKey, auxLoss.shape);
        ctx.save_data(DtypeKey, auxLoss.dtype);
        ctx.save_data(DeviceKey, auxLoss.device);
        return new() { output.alias() };
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        => BackwardErrorTrap.Run(Name, 2, () => new List<Tensor>
        {
            BackwardErrorTrap.IsPresent(grads[0]) ? grads[0] : null!,
            MoEAuxLossAutoScaler.AuxLossGradient(
                (long[])ctx.get_data(ShapeKey), (ScalarType)ctx.get_data(DtypeKey), (Device)ctx.get_data(DeviceKey)),
        });

    private const string ShapeKey = "auxShape";
    private const string DtypeKey = "auxDtype";
    private const string DeviceKey = "auxDevice";
}
