using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using TorchSharp;
using Xunit;

namespace MoeOpGen.Tests.Golden;

/// <summary>
/// The golden tensors of the reference module (<c>moe_utils_golden.json</c> + <c>.safetensors</c>).
/// They live outside the repository, in <c>&lt;repo root&gt;/../shared/golden</c> (the root is the folder holding
/// <c>MoeOpGen.sln</c>), or in the folder named by <see cref="DirectoryVariable"/>; tests skip when it is absent.
/// </summary>
/// <example>
/// <code>
/// public static TheoryData&lt;string&gt; Cases => GoldenCases.TheoryData("permute");
/// [Theory, MemberData(nameof(Cases))]
/// public void Matches(string name) { var c = GoldenCases.Load(name); ... c["tokens"] ... }
/// </code>
/// Theory rows are case names (strings), so xunit can list each case as its own test.
/// </example>
public static class GoldenCases
{
    /// <summary>Environment variable that overrides the golden folder (e.g. in a GPU test bundle without the sln).</summary>
    public const string DirectoryVariable = "MOEOPGEN_GOLDEN_DIR";

    /// <summary>The single theory row produced when the data is absent; <see cref="Load"/> skips on it.</summary>
    public const string AbsentMarker = "(golden data absent)";

    private const string ManifestFile = "moe_utils_golden.json";
    private const string TensorFile = "moe_utils_golden.safetensors";

    private static readonly Lazy<string?> Folder = new(FindFolder);
    private static readonly Lazy<GoldenStore> Store = new(() => GoldenStore.Read(Folder.Value!));

    /// <summary>The golden folder, or null when it cannot be found.</summary>
    public static string? Directory => Folder.Value;

    /// <summary>Names of the cases whose name starts with <paramref name="prefix"/> (ordinal), in manifest order.</summary>
    public static IReadOnlyList<string> Names(string prefix)
        => Directory is null ? Array.Empty<string>() : Store.Value.CaseNames.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    /// <summary>Theory data of case names for <c>[MemberData]</c>. When the data is absent it holds only
    /// <see cref="AbsentMarker"/>, so the theory still runs once and reports the skip.</summary>
    public static TheoryData<string> TheoryData(string prefix)
    {
        var names = Directory is null ? new[] { AbsentMarker } : Names(prefix).ToArray();
        if (names.Length == 0)
            throw new InvalidOperationException($"No golden case starts with '{prefix}' in {Directory}.");
        return new TheoryData<string>(names);
    }

    /// <summary>Loads one case; skips the calling test when the golden folder is absent.</summary>
    public static GoldenCase Load(string name)
    {
        SkipIfAbsent();
        return Store.Value.Case(name);
    }

    /// <summary>All cases whose name starts with <paramref name="prefix"/>; skips when the data is absent.</summary>
    public static IEnumerable<GoldenCase> All(string prefix)
    {
        SkipIfAbsent();
        return Names(prefix).Select(Store.Value.Case);
    }

    /// <summary>Skips the calling test, saying where the data was looked for, when the golden folder is absent.</summary>
    public static void SkipIfAbsent()
    {
        if (Directory is null)
            Assert.Skip($"Golden data not found: set {DirectoryVariable} or place {ManifestFile} and {TensorFile} in <repo root>/../shared/golden.");
    }

    private static string? FindFolder()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
            return HasData(fromEnvironment) ? Path.GetFullPath(fromEnvironment) : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "MoeOpGen.sln")))
                continue;
            var golden = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
            return HasData(golden) ? golden : null;
        }
        return null;
    }

    private static bool HasData(string folder)
        => File.Exists(Path.Combine(folder, ManifestFile)) && File.Exists(Path.Combine(folder, TensorFile));

    /// <summary>The parsed manifest and every tensor of the file, loaded once per test run.</summary>
    private sealed class GoldenStore
    {
        private readonly Dictionary<string, (string[] Tensors, Dictionary<string, JsonElement> Scalars)> cases;
        private readonly Dictionary<string, torch.Tensor> tensors;

        private GoldenStore(Dictionary<string, (string[], Dictionary<string, JsonElement>)> cases, Dictionary<string, torch.Tensor> tensors)
        {
            this.cases = cases;
            this.tensors = tensors;
            CaseNames = cases.Keys.ToList();
        }

        public IReadOnlyList<string> CaseNames { get; }

        public static GoldenStore Read(string folder)
        {
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, ManifestFile)));
            var cases = new Dictionary<string, (string[], Dictionary<string, JsonElement>)>();
            foreach (var entry in manifest.RootElement.GetProperty("cases").EnumerateArray())
            {
                var names = entry.GetProperty("tensors").EnumerateArray().Select(t => t.GetString()!).ToArray();
                var scalars = entry.GetProperty("scalars").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
                cases.Add(entry.GetProperty("name").GetString()!, (names, scalars));
            }

            // TorchSharp.PyBridge reads safetensors into TorchSharp tensors, bf16, bool and 0-d tensors included
            // (checked against a plain reader of the same file). Its tensors are registered in the current dispose
            // scope, so they are read in a scope of their own and detached: the cache outlives every test.
            using var scope = torch.NewDisposeScope();
            var tensors = TorchSharp.PyBridge.Safetensors.LoadStateDict(Path.Combine(folder, TensorFile));
            foreach (var tensor in tensors.Values)
                tensor.DetachFromDisposeScope();
            return new GoldenStore(cases, tensors);
        }

        public GoldenCase Case(string name)
        {
            if (!cases.TryGetValue(name, out var entry))
                throw new KeyNotFoundException($"No golden case named '{name}'.");
            var copies = entry.Tensors.ToDictionary(t => t, t => tensors.TryGetValue($"{name}/{t}", out var stored)
                ? stored.clone()
                : throw new InvalidDataException($"The manifest lists tensor '{t}' for case {name}, but {TensorFile} lacks '{name}/{t}'."));
            return new GoldenCase(name, copies, entry.Scalars);
        }
    }
}
