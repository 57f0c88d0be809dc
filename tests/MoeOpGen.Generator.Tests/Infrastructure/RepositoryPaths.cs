using System.IO;
using System.Runtime.CompilerServices;

namespace MoeOpGen.Generator.Tests.Infrastructure;

/// <summary>
/// Paths of the source tree, found from this file's compile-time path: the tests read the shipped operators and
/// the committed snapshots from the repository itself, not from copies in bin/.
/// </summary>
internal static class RepositoryPaths
{
    /// <summary>The folder of the test project's sources.</summary>
    public static string TestProjectDirectory { get; } = Path.GetFullPath(Path.Combine(ThisDirectory(), ".."));

    /// <summary>The repository root.</summary>
    public static string Root { get; } = Path.GetFullPath(Path.Combine(TestProjectDirectory, "..", ".."));

    /// <summary>The folder of the shipped operators' sources.</summary>
    public static string ShippedActivations { get; } = Path.Combine(Root, "ops", "Activations");

    private static string ThisDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
