using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.PortableExecutable;
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
                     "lib/net10.0/MoeOpGen.Runtime.dll", "lib/net10.0/MoeOpGen.Runtime.xml",
                     "lib/net10.0/MoeOpGen.Ops.dll", "lib/net10.0/MoeOpGen.Ops.xml",
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
        Assert.Equal(["TorchSharp [0.107.0]", "TorchSharp [0.107.0]"], dependencies);   // one group per lib/ framework
    }

    [Fact]
    public void LibrariesAreReadyToRunImagesForTheRuntimeOfTheirFolder()
    {
        RequirePackage();
        using var zip = ZipFile.OpenRead(package.PackageFile);
        foreach (var name in new[] { "MoeOpGen.Runtime.dll", "MoeOpGen.Ops.dll" })
        {
            // A runtime runs only the precompiled code of its own ReadyToRun major version (it JIT-compiles the IL
            // of any other), hence an image per runtime: .NET 8's crossgen2 for lib/net8.0, .NET 10's for net10.0.
            int net8 = ReadyToRunMajorVersion(zip, $"lib/net8.0/{name}");
            int net10 = ReadyToRunMajorVersion(zip, $"lib/net10.0/{name}");
            Assert.True(net8 > 0 && net10 > net8, $"{name}: ReadyToRun major versions {net8} (net8.0) and {net10} (net10.0)");
        }
    }

    /// <summary>The major version of the ReadyToRun header of a packed assembly, or 0 when it is IL only.</summary>
    private static int ReadyToRunMajorVersion(ZipArchive zip, string entry)
    {
        using var stream = new MemoryStream();
        using (var packed = zip.GetEntry(entry)!.Open()) packed.CopyTo(stream);
        stream.Position = 0;
        using var pe = new PEReader(stream);
        var header = pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory;
        if (header.Size == 0) return 0;
        var data = pe.GetSectionData(header.RelativeVirtualAddress).GetContent(0, 8);
        Assert.Equal(0x00525452u, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan()));   // "RTR": READYTORUN_HEADER
        return BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan()[4..]);
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
