using System;
using System.Collections.Generic;
using System.Linq;
using MoeDemo;
using Spectre.Console.Testing;
using TorchSharp;
using Xunit;

namespace MoeOpGen.Tests.Demo;

/// <summary>samples/MoeDemo at library level: its training loop learns, routes every copy, frees each step's
/// tensors, accepts every listed activation; its command line lists and checks its options.</summary>
public class MoeDemoTests
{
    private static TrainSettings SmallRun(string activation = "swiglu") => new()
    {
        Activation = activation, Tokens = 256, Experts = 4, TopK = 2, Hidden = 16, Ffn = 32, LearningRate = 1e-2, Seed = 3,
    };

    [Fact]
    public void A_few_dozen_steps_bring_the_loss_down_and_route_every_token_copy()
    {
        var settings = SmallRun();
        using var trainer = new MoeTrainer(settings, torch.CPU);
        var steps = Enumerable.Range(0, 40).Select(_ => trainer.Step()).ToList();

        Assert.All(steps, s => Assert.Equal(settings.Tokens * settings.TopK, s.TokensPerExpert.Sum()));
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss) && double.IsFinite(s.AuxLoss), $"loss {s.Loss}, aux {s.AuxLoss}"));
        double start = steps.Take(3).Average(s => s.Loss), end = steps.TakeLast(5).Average(s => s.Loss);
        Assert.True(end < 0.5 * start, $"loss went from {start:F4} (first 3 steps) to {end:F4} (last 5): not halved");
    }

    [Fact]
    public void A_step_leaves_no_live_tensor_behind()
    {
        using var trainer = new MoeTrainer(SmallRun(), torch.CPU);
        trainer.Step();   // the first step creates the optimizer's state
        var statistics = DisposeScopeManager.Statistics;
        long before = statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) trainer.Step();
        Assert.Equal(before, statistics.ThreadTotalLiveCount);
    }

    public static TheoryData<string> Activations() => new(GatedActivations.Names);

    [Theory]
    [MemberData(nameof(Activations))]
    public void Every_listed_activation_trains(string activation)
    {
        using var trainer = new MoeTrainer(SmallRun(activation), torch.CPU);
        var losses = Enumerable.Range(0, 8).Select(_ => trainer.Step().Loss).ToList();
        Assert.All(losses, l => Assert.True(double.IsFinite(l), $"{activation}: loss {l}"));
        Assert.True(losses[^1] < losses[0], $"{activation}: loss {losses[0]:F4} → {losses[^1]:F4} did not go down in 8 steps");
    }

    [Fact]
    public void Help_lists_the_options()
    {
        var console = new TestConsole().Width(200);
        int exitCode = MoeDemoApp.Create(console).Run(["--help"], TestContext.Current.CancellationToken);
        Assert.Equal(0, exitCode);
        foreach (var option in new[] { "--activation", "--device", "--steps", "--tokens", "--experts", "--top-k", "--lr", "--aux-loss-coeff", "--clamp", "--threads", "--seed" })
            Assert.Contains(option, console.Output);
    }

    [Theory]
    [InlineData("--top-k", "9", "--top-k")]
    [InlineData("--activation", "gelu", "--activation")]
    [InlineData("--device", "tpu", "--device")]
    [InlineData("--steps", "0", "--steps")]
    public void Bad_options_are_refused_naming_the_option(string option, string value, string named)
    {
        var console = new TestConsole().Width(200);
        int exitCode = MoeDemoApp.Create(console).Run([option, value], TestContext.Current.CancellationToken);
        Assert.NotEqual(0, exitCode);
        Assert.Contains(named, console.Output);
    }

    [Fact]
    public void The_trainer_refuses_invalid_settings_naming_the_argument()
    {
        var settings = SmallRun();
        settings.TopK = settings.Experts + 1;
        var error = Assert.Throws<ArgumentException>(() => new MoeTrainer(settings, torch.CPU));
        Assert.Equal("settings", error.ParamName);
    }

    [Fact]
    public void The_loss_curve_covers_every_step_once()
    {
        var steps = Enumerable.Range(1, 23).Select(i => new StepResult(i, 0, [], TimeSpan.Zero)).ToList();
        var curve = Summary.LossCurve(steps, bars: 5).ToList();
        Assert.Equal(5, curve.Count);
        Assert.Equal(1, curve[0].First);
        Assert.Equal(23, curve[^1].Last);
        Assert.All(curve.Zip(curve.Skip(1)), pair => Assert.Equal(pair.First.Last + 1, pair.Second.First));
        Assert.Equal(3.0, curve[0].MeanLoss);   // steps 1..5
    }
}
