using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Spectre.Console;
using Spectre.Console.Rendering;
using TorchSharp;

namespace MoeDemo;

/// <summary>The end-of-run report: the loss curve as a bar chart, then a table of the run's numbers.</summary>
public static class Summary
{
    /// <summary>Bars in the loss chart: each is the mean loss of one slice of the steps.</summary>
    private const int ChartBars = 10;

    public static IRenderable Render(TrainSettings settings, torch.Device device, IReadOnlyList<StepResult> steps, TimeSpan wallTime, string kernelCache)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 0) return new Markup("[yellow]No step ran.[/]");

        var chart = new BarChart().Width(72).Label("[bold]Loss (mean per slice of steps)[/]").LeftAlignLabel();
        int digits = steps.Count.ToString(CultureInfo.InvariantCulture).Length;
        foreach (var (first, last, meanLoss) in LossCurve(steps, ChartBars))
            chart.AddItem($"steps {first.ToString(CultureInfo.InvariantCulture).PadLeft(digits)}–{last.ToString(CultureInfo.InvariantCulture).PadLeft(digits)}",
                Math.Round(meanLoss, 4), Color.Green);

        var trainingTime = TimeSpan.FromTicks(steps.Sum(s => s.Elapsed.Ticks));
        var load = steps[^1].TokensPerExpert;
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]Summary[/]").AddColumn("").AddColumn("");
        table.HideHeaders();
        table.AddRow("activation", $"{settings.Activation}{(settings.Clamp is double c ? $" (clamp {c})" : "")}");
        table.AddRow("device", device.ToString());
        table.AddRow("steps", $"{steps.Count} × {settings.Tokens} tokens");
        table.AddRow("loss", $"{steps[0].Loss:F4} → {steps[^1].Loss:F4} (last 10 steps: {steps.TakeLast(10).Average(s => s.Loss):F4})");
        table.AddRow("aux loss", $"{steps[^1].AuxLoss:F5} (coefficient {settings.AuxLossCoeff})");
        table.AddRow("tokens per expert (last step)", string.Join(" ", load));
        table.AddRow("throughput", $"{steps.Count * (double)settings.Tokens / trainingTime.TotalSeconds:N0} tokens/s");
        table.AddRow("time", $"{wallTime.TotalSeconds:F1} s in all, {trainingTime.TotalSeconds:F1} s training");
        table.AddRow("kernel cache", Markup.Escape(kernelCache));
        return new Rows(new Text(""), chart, new Text(""), table);
    }

    /// <summary>The steps cut into at most <paramref name="bars"/> consecutive slices: each slice's first and last
    /// step (1-based) and mean loss.</summary>
    public static IEnumerable<(int First, int Last, double MeanLoss)> LossCurve(IReadOnlyList<StepResult> steps, int bars)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentOutOfRangeException.ThrowIfLessThan(bars, 1);
        int slice = (steps.Count + bars - 1) / bars;
        for (int start = 0; start < steps.Count; start += slice)
        {
            int end = Math.Min(start + slice, steps.Count);
            yield return (start + 1, end, steps.Skip(start).Take(end - start).Average(s => s.Loss));
        }
    }
}
