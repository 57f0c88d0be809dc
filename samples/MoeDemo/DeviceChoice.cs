using System;
using TorchSharp;

namespace MoeDemo;

/// <summary>Turns the <c>--device</c> option into a TorchSharp device.</summary>
public static class DeviceChoice
{
    public static bool IsValid(string choice)
        => choice is "auto" or "cpu" or "cuda"
           || (choice.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(choice.AsSpan(5), out int index) && index >= 0);

    /// <summary><c>auto</c> picks CUDA device 0 when libtorch sees one, else the CPU.</summary>
    /// <exception cref="ArgumentException">CUDA was asked for but is not available (e.g. the TorchSharp-cpu backend).</exception>
    public static torch.Device Resolve(string choice)
    {
        ArgumentNullException.ThrowIfNull(choice);
        if (!IsValid(choice)) throw new ArgumentException($"Unknown device '{choice}'.", nameof(choice));
        if (choice == "cpu") return torch.CPU;
        bool cuda = torch.cuda.is_available();
        if (choice == "auto") return cuda ? torch.CUDA : torch.CPU;
        if (!cuda)
            throw new ArgumentException(
                $"--device {choice}: libtorch sees no CUDA device. The default build uses TorchSharp-cpu; see docs/install.md for a CUDA libtorch.",
                nameof(choice));
        return torch.device(choice);
    }
}
