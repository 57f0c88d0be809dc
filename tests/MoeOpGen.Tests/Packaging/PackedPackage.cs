using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace MoeOpGen.Tests.Packaging;

/// <summary>
/// The MoeOpGen package, packed once per test class into a fresh local feed from what the test build just built
/// (<c>dotnet pack pack/MoeOpGen.csproj --no-build</c>, the test assembly's configuration). The version carries a
/// unique pre-release tag so no package of the same id and version can be found in any NuGet cache.
/// </summary>
public sealed class PackedPackage : IAsyncLifetime
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Why the packaging tests cannot run here (no repository, no SDK), or null.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>The repository root: the folder holding MoeOpGen.sln.</summary>
    public string RepositoryRoot { get; private set; } = "";

    /// <summary>Scratch space of this test class: the feed, the consumer project, its packages folder.</summary>
    public string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), "moeopgen-pack-" + Guid.NewGuid().ToString("N"));

    public string FeedDirectory => Path.Combine(WorkDirectory, "feed");

    /// <summary>The version the package was packed with, e.g. <c>0.1.0-packtest.3f2a…</c>.</summary>
    public string Version { get; } = PackageVersion();

    public string PackageFile => Path.Combine(FeedDirectory, $"MoeOpGen.{Version}.nupkg");

    /// <summary>The pack command's output (printed by a failing test).</summary>
    public DotnetRun? PackRun { get; private set; }

    public async ValueTask InitializeAsync()
    {
        string? root = FindRepositoryRoot();
        if (root is null) { SkipReason = "not run from a MoeOpGen repository checkout (no MoeOpGen.sln above the test binaries)"; return; }
        if (!await DotnetCli.HasSdkAsync()) { SkipReason = "no .NET SDK on the PATH"; return; }
        RepositoryRoot = root;
        Directory.CreateDirectory(WorkDirectory);

        string configuration = typeof(PackedPackage).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MoeOpGen.BuildConfiguration").Value!;
        PackRun = await DotnetCli.RunAsync(RepositoryRoot,
        [
            "pack", Path.Combine("pack", "MoeOpGen.csproj"), "-c", configuration, "--no-build", "--disable-build-servers",
            "-o", FeedDirectory, $"-p:Version={Version}", $"-p:NuspecOutputPath={Path.Combine(WorkDirectory, "nuspec")}/",
        ], PackTimeout);
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            if (Directory.Exists(WorkDirectory)) Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder does not affect other tests.
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>The library's version (Directory.Build.props) with a unique pre-release tag.</summary>
    private static string PackageVersion()
    {
        var v = typeof(OpMath).Assembly.GetName().Version!;
        return $"{v.Major}.{v.Minor}.{v.Build}-packtest.{Guid.NewGuid():N}";
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MoeOpGen.sln")) && File.Exists(Path.Combine(dir.FullName, "pack", "MoeOpGen.csproj")))
                return dir.FullName;
        return null;
    }
}
