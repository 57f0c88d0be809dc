using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MoeDemo;

/// <summary>The demo's command-line options; also what <see cref="MoeTrainer"/> is built from (tests set them directly).</summary>
public sealed class TrainSettings : CommandSettings
{
    [CommandOption("-a|--activation <NAME>")]
    [Description("Expert activation, a generated gated operator: swiglu, geglu, geglu-erf, quick-geglu, reglu, squared-reglu, situglu.")]
    [DefaultValue("swiglu")]
    public string Activation { get; set; } = "swiglu";

    [CommandOption("-d|--device <DEVICE>")]
    [Description("auto (CUDA when available, else CPU), cpu, cuda or cuda:N.")]
    [DefaultValue("auto")]
    public string Device { get; set; } = "auto";

    [CommandOption("-s|--steps <N>")]
    [Description("Optimizer steps.")]
    [DefaultValue(300)]
    public int Steps { get; set; } = 300;

    [CommandOption("-t|--tokens <N>")]
    [Description("Tokens per batch.")]
    [DefaultValue(512)]
    public int Tokens { get; set; } = 512;

    [CommandOption("-e|--experts <N>")]
    [Description("Number of experts.")]
    [DefaultValue(8)]
    public int Experts { get; set; } = 8;

    [CommandOption("-k|--top-k <K>")]
    [Description("Experts each token is routed to.")]
    [DefaultValue(2)]
    public int TopK { get; set; } = 2;

    [CommandOption("--hidden <N>")]
    [Description("Model (token) width.")]
    [DefaultValue(32)]
    public int Hidden { get; set; } = 32;

    [CommandOption("--ffn <N>")]
    [Description("Expert MLP width F (the activation sees [[tokens, 2F]]).")]
    [DefaultValue(64)]
    public int Ffn { get; set; } = 64;

    [CommandOption("--lr <RATE>")]
    [Description("Adam learning rate.")]
    [DefaultValue(3e-3)]
    public double LearningRate { get; set; } = 3e-3;

    [CommandOption("--aux-loss-coeff <C>")]
    [Description("Weight of the load-balancing loss (attached to the routing probs by MoEAuxLossAutoScaler).")]
    [DefaultValue(1e-2)]
    public double AuxLossCoeff { get; set; } = 1e-2;

    [CommandOption("--clamp <C>")]
    [Description("Clamp the activation's input (GPT-OSS style: gate ≤ C, |linear| ≤ C). Off by default.")]
    public double? Clamp { get; set; }

    [CommandOption("--threads <N>")]
    [Description("libtorch CPU threads. The layer's matrices are small, so one thread is fastest and does not spin-wait on a busy machine.")]
    [DefaultValue(1)]
    public int Threads { get; set; } = 1;

    [CommandOption("--seed <N>")]
    [Description("Seed of the data and of the initial weights.")]
    [DefaultValue(0)]
    public int Seed { get; set; }

    public override ValidationResult Validate()
    {
        if (!GatedActivations.Contains(Activation))
            return ValidationResult.Error($"--activation must be one of: {string.Join(", ", GatedActivations.Names)}.");
        if (Steps < 1) return ValidationResult.Error("--steps must be at least 1.");
        if (Tokens < 1) return ValidationResult.Error("--tokens must be at least 1.");
        if (Experts < 1) return ValidationResult.Error("--experts must be at least 1.");
        if (TopK < 1 || TopK > Experts) return ValidationResult.Error($"--top-k must be between 1 and --experts ({Experts}).");
        if (Threads < 1) return ValidationResult.Error("--threads must be at least 1.");
        if (Hidden < 1 || Ffn < 1) return ValidationResult.Error("--hidden and --ffn must be at least 1.");
        if (!(LearningRate > 0)) return ValidationResult.Error("--lr must be positive.");
        if (!(AuxLossCoeff >= 0)) return ValidationResult.Error("--aux-loss-coeff must not be negative.");
        if (Clamp is double c && !(c >= 0)) return ValidationResult.Error("--clamp must not be negative.");
        if (!DeviceChoice.IsValid(Device)) return ValidationResult.Error("--device must be auto, cpu, cuda or cuda:N.");
        return ValidationResult.Success();
    }
}
