using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// The parameter lists of the <c>extern "C"</c> kernels of a CUDA source, read from the text: enough of a
/// preprocessor to expand the one-line macros that instantiate kernels (<c>#define M(A, B) … A##_x …</c> then
/// <c>M(a, b)</c>), so that tests can hold launch code to the real signatures without a GPU.
/// </summary>
internal static partial class KernelSignatures
{
    private const string ExternC = "extern \"C\"", ExternCPlaceholder = "extern \u0001";

    /// <summary>One kernel parameter: its name and its size in bytes as the driver copies it.</summary>
    public readonly record struct Parameter(string Name, int Bytes);

    /// <summary>Kernel name → parameters in order, for every kernel defined in <paramref name="source"/>.</summary>
    public static IReadOnlyDictionary<string, Parameter[]> Parse(string source)
    {
        string text = source.Replace("\\\r\n", " ").Replace("\\\n", " ");   // join macro continuation lines
        var macros = DefineLine().Matches(text).ToDictionary(
            m => m.Groups["name"].Value,
            m => (Arguments: SplitArguments(m.Groups["args"].Value), Body: m.Groups["body"].Value));

        var expanded = new List<string> { DefineLine().Replace(text, "") };
        foreach (Match use in MacroUse().Matches(text))
        {
            if (!macros.TryGetValue(use.Groups["name"].Value, out var macro)) continue;
            var values = SplitArguments(use.Groups["args"].Value);
            // The literal "C" of extern "C" must survive a macro argument named C.
            string body = macro.Body.Replace(ExternC, ExternCPlaceholder);
            for (int i = 0; i < macro.Arguments.Length; i++)
                body = Regex.Replace(body, $@"(?:##)?\b{macro.Arguments[i]}\b(?:##)?", values[i]);
            expanded.Add(body.Replace(ExternCPlaceholder, ExternC));
        }

        var kernels = new Dictionary<string, Parameter[]>(StringComparer.Ordinal);
        foreach (Match kernel in ExternKernel().Matches(string.Join("\n", expanded)))
            kernels.Add(kernel.Groups["name"].Value, SplitArguments(kernel.Groups["params"].Value).Select(ParseParameter).ToArray());
        return kernels;
    }

    /// <summary>Parameter sizes of a kernel entry in PTX (<c>.param .u64 name_param_0</c>, …).</summary>
    public static int[] PtxParameterBytes(string ptx, string kernel)
    {
        var entry = Regex.Match(ptx, $@"\.entry {Regex.Escape(kernel)}\((?<params>[^)]*)\)");
        if (!entry.Success) throw new InvalidOperationException($"No .entry {kernel} in the PTX.");
        return Regex.Matches(entry.Groups["params"].Value, @"\.param \.(?:[us]|b|f)(?<bits>\d+)")
                    .Select(m => int.Parse(m.Groups["bits"].Value) / 8).ToArray();
    }

    private static Parameter ParseParameter(string declaration)
    {
        var name = Regex.Match(declaration, @"(\w+)\s*$").Groups[1].Value;
        string type = declaration[..^name.Length].Trim();
        int bytes = type.EndsWith('*') ? 8
            : type is "i64" or "u64" or "long long" or "unsigned long long" or "double" ? 8
            : type is "int" or "unsigned" or "unsigned int" or "float" ? 4
            : throw new NotSupportedException($"Unknown kernel parameter type '{type}' in '{declaration}'.");
        return new(name, bytes);
    }

    private static string[] SplitArguments(string list)
        => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    [GeneratedRegex(@"^[ \t]*#define[ \t]+(?<name>\w+)\((?<args>[^)]*)\)(?<body>[^\n]*)$", RegexOptions.Multiline)]
    private static partial Regex DefineLine();

    [GeneratedRegex(@"^[ \t]*(?<name>[A-Z][A-Z0-9_]*)\((?<args>[^)]*)\)[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex MacroUse();

    [GeneratedRegex(@"extern ""C"" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s*)?(?<name>\w+)\s*\((?<params>[^)]*)\)")]
    private static partial Regex ExternKernel();
}
