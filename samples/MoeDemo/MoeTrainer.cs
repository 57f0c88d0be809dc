using System;
using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeDemo;

/// <summary>One optimizer step's numbers.</summary>
/// <param name="Loss">Mean squared error of the layer's output (the main loss).</param>
/// <param name="AuxLoss">The weighted load-balancing loss.</param>
/// <param name="TokensPerExpert">Tokens routed to each expert in this step.</param>
/// <param name="Elapsed">Wall time of the step.</param>
public sealed record StepResult(double Loss, double AuxLoss, long[] TokensPerExpert, TimeSpan Elapsed);

/// <summary>
/// The demo's training loop without any console: <see cref="MoeLayer"/> trained with Adam on
/// <see cref="SyntheticTask"/>, one fresh batch per <see cref="Step"/>. Every tensor a step creates lives in that
/// step's dispose scope, so memory stays flat however many steps run.
/// </summary>
public sealed class MoeTrainer : IDisposable
{
    private readonly TrainSettings settings;
    private readonly SyntheticTask task;
    private readonly MoeLayer layer;
    private readonly Adam optimizer;

    public MoeTrainer(TrainSettings settings, Device device)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(device);
        var validation = settings.Validate();
        if (!validation.Successful) throw new ArgumentException(validation.Message, nameof(settings));
        this.settings = settings;
        Device = device;
        torch.random.manual_seed(settings.Seed);
        task = new SyntheticTask(settings.Hidden, clusters: settings.Experts, settings.Seed);
        layer = new MoeLayer(settings.Hidden, settings.Ffn, settings.Experts, settings.TopK,
            GatedActivations.Get(settings.Activation), settings.AuxLossCoeff, settings.Clamp);
        layer.to(device);
        optimizer = optim.Adam(layer.parameters(), settings.LearningRate);
    }

    public Device Device { get; }

    /// <summary>Samples a batch, runs forward and backward (the aux loss's gradient comes in through
    /// <c>MoEAuxLossAutoScaler</c>), and updates the weights.</summary>
    public StepResult Step()
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var (inputs, targets) = task.Sample(settings.Tokens, Device);
        optimizer.zero_grad();
        var result = layer.forward(inputs);
        var loss = nn.functional.mse_loss(result.Output, targets);
        loss.backward();
        optimizer.step();
        // item() waits for the device, so the time below includes the step's kernels.
        double lossValue = loss.item<float>(), auxValue = result.AuxLoss.item<float>();
        return new StepResult(lossValue, auxValue, result.TokensPerExpert, clock.Elapsed);
    }

    public void Dispose()
    {
        optimizer.Dispose();
        layer.Dispose();
        task.Dispose();
    }
}
