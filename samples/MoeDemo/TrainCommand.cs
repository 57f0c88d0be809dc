using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using MoeOpGen.Cuda;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace MoeDemo;

/// <summary>Trains the MoE layer with a progress bar (loss, tokens/s) and ends with a summary: loss curve, expert
/// load, throughput, time, and where compiled CUDA kernels are cached.</summary>
public sealed class TrainCommand : Command<TrainSettings>
{
    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellationToken)
    {
        torch.set_num_threads(settings.Threads);   // process-wide, so set here and not by the trainer
        torch.Device device;
        try
        {
            device = DeviceChoice.Resolve(settings.Device);
        }
        catch (ArgumentException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }

        AnsiConsole.MarkupLineInterpolated(
            $"[bold]MoE layer[/]: {settings.Experts} experts, top-{settings.TopK}, expert MLP {settings.Hidden}→2×{settings.Ffn}→{settings.Hidden}");
        AnsiConsole.MarkupLineInterpolated(
            $"activation [green]{settings.Activation}[/]{(settings.Clamp is double c ? $" (clamp {c})" : "")}, device [green]{device}[/], {settings.Steps} steps of {settings.Tokens} tokens");
        var clock = Stopwatch.StartNew();
        using var trainer = new MoeTrainer(settings, device);
        var steps = new List<StepResult>(settings.Steps);

        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("training", maxValue: settings.Steps);
                var trainingTime = TimeSpan.Zero;
                for (int i = 0; i < settings.Steps && !cancellationToken.IsCancellationRequested; i++)
                {
                    var step = trainer.Step();
                    steps.Add(step);
                    trainingTime += step.Elapsed;
                    double tokensPerSecond = steps.Count * (double)settings.Tokens / trainingTime.TotalSeconds;
                    task.Description = $"loss {step.Loss,8:F4}  {tokensPerSecond,9:N0} tok/s";
                    task.Increment(1);
                }
            });

        AnsiConsole.Write(Summary.Render(settings, device, steps, clock.Elapsed, KernelCacheLine(device)));
        return steps.Count == settings.Steps ? 0 : 130;
    }

    /// <summary>Where the CUDA runtime keeps compiled kernels, or why nothing was compiled.</summary>
    private static string KernelCacheLine(torch.Device device)
    {
        if (device.type != DeviceType.CUDA) return "none: the CPU runs the generated fused CPU kernels, nothing is compiled";
        return CudaKernels.CacheDirectory is string directory
            ? $"{directory} (NVRTC output, reused by later runs)"
            : "in memory only (no writable cache directory; set MOEOPGEN_CACHE_DIR)";
    }
}
