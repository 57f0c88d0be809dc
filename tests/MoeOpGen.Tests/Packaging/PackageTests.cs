using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security;
using System.Threading.Tasks;
using System.Xml.Linq;
using Xunit;

namespace MoeOpGen.Tests.Packaging;

/// <summary>
/// The NuGet package as a user gets it: its layout and dependencies, and a separate application (tests/PackageConsumer,
/// copied out of the repository) that references only the package, declares its own activation, and checks its
/// gradients against finite differences. Needs the .NET SDK; skipped where there is none (GPU bundle).
/// </summary>
[Trait("Category", "Packaging")]
public class PackageTests(PackedPackage package, ITestOutputHelper output) : IClassFixture<PackedPackage>
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public void PackageHoldsLibrariesGeneratorReadmeAndNativeFix()
    {
        RequirePackage();
        using var zip = ZipFile.OpenRead(package.PackageFile);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var expected in new[]
                 {
                     "lib/net8.0/MoeOpGen.Runtime.dll", "lib/net8.0/MoeOpGen.Runtime.xml",
                     "lib/net8.0/MoeOpGen.Ops.dll", "lib/net8.0/MoeOpGen.Ops.xml",
                     "analyzers/dotnet/cs/MoeOpGen.Generator.dll", "buildTransitive/MoeOpGen.targets", "README.md",
                 })
            Assert.True(entries.Contains(expected), $"{expected} is missing from the package; it holds:\n{string.Join('\n', entries.Order())}");
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.EndsWith("/MoeOpGen.dll", StringComparison.Ordinal));

        // The build step in the package is the repository's file, byte for byte.
        using (var packed = zip.GetEntry("buildTransitive/MoeOpGen.targets")!.Open())
        using (var copy = new MemoryStream())
        {
            packed.CopyTo(copy);
            Assert.Equal(File.ReadAllBytes(Path.Combine(package.RepositoryRoot, "build", "MoeOpGen.TorchSharpNativeFix.targets")), copy.ToArray());
        }

        // TorchSharp at exactly the tested version, and no libtorch backend: the application picks one.
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var dependencies = XDocument.Load(nuspecStream).Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => $"{e.Attribute("id")!.Value} {e.Attribute("version")!.Value}").ToArray();
        Assert.Equal(["TorchSharp [0.107.0]"], dependencies);
    }

    [Fact]
    public async Task ConsumerDeclaresAnActivationAndItsGradientsMatchFiniteDifferences()
    {
        RequirePackage();
        string consumer = Path.Combine(package.WorkDirectory, "consumer");
        Directory.CreateDirectory(consumer);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(package.RepositoryRoot, "tests", "PackageConsumer")))
            File.Copy(file, Path.Combine(consumer, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), await NuGetConfigAsync());

        var build = await DotnetCli.RunAsync(consumer,
            ["build", "-c", "Release", "--disable-build-servers", $"-p:MoeOpGenVersion={package.Version}"], BuildTimeout);
        output.WriteLine(build.ToString());
        Assert.True(build.Succeeded, $"The consumer did not build from the package.\n{build}");

        var run = await DotnetCli.RunAsync(consumer, [Path.Combine("bin", "Release", "net10.0", "PackageConsumer.dll")], RunTimeout);
        output.WriteLine(run.ToString());
        Assert.True(run.Succeeded && run.Log.Contains("OK: MishGlu gradients match finite differences", StringComparison.Ordinal),
            $"The consumer failed.\n{run}\n\nIts build:\n{build}");
    }

    /// <summary>Fails with the pack log when packing failed; skips where packaging cannot be tested.</summary>
    private void RequirePackage()
    {
        Assert.SkipWhen(package.SkipReason is not null, $"Packaging tests need the repository and the .NET SDK: {package.SkipReason}");
        Assert.True(package.PackRun is { Succeeded: true } && File.Exists(package.PackageFile),
            $"dotnet pack did not produce {package.PackageFile}.\n{package.PackRun}");
    }

    /// <summary>
    /// The consumer's nuget.config: the fresh feed added to the sources this machine is configured with (they are
    /// inherited, not cleared, so a mirror keeps working), a packages folder of its own so nothing is written to
    /// the user's, and the user's packages folder as a read-only fallback so TorchSharp and libtorch are not
    /// downloaded again.
    /// </summary>
    private async Task<string> NuGetConfigAsync()
    {
        var locals = await DotnetCli.RunAsync(package.WorkDirectory, ["nuget", "locals", "global-packages", "--list"], RunTimeout);
        Assert.True(locals.Succeeded, $"Cannot find the user's NuGet packages folder.\n{locals}");
        string userPackages = locals.Log.Split('\n').Select(l => l.Trim())
            .Single(l => l.StartsWith("global-packages:", StringComparison.Ordinal))["global-packages:".Length..].Trim();
        string Attr(string value) => SecurityElement.Escape(value);
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Attr(Path.Combine(package.WorkDirectory, "packages"))}" />
              </config>
              <packageSources>
                <add key="moeopgen-packed" value="{Attr(package.FeedDirectory)}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="user-packages" value="{Attr(userPackages)}" />
              </fallbackPackageFolders>
            </configuration>
            """;
    }
}
