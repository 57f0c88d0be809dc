using System;
using System.IO;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>Compiler-identity records: a record is used only while the library file is the one it was written for.</summary>
public class CompilerIdentityRecordsTests : IDisposable
{
    private static readonly CompilerFacts Facts = new("fake 11.8", [75, 80, 86, 89, 90]);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string NewLibrary(string name = "libnvrtc.so.11.2", string content = "not really a library")
    {
        var path = _directory.Combine("lib", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    private CompilerIdentityRecords NewRecords() => new(_directory.Combine("cache"));

    [Fact]
    public void RecordRoundTrips()
    {
        var library = NewLibrary();
        var records = NewRecords();

        records.Write(library, Facts);
        var read = records.TryRead(library);

        Assert.NotNull(read);
        Assert.Equal(Facts.Version, read.Version);
        Assert.Equal(Facts.SupportedArchitectures, read.SupportedArchitectures);
        Assert.True(File.Exists(records.PathFor(library)));
        Assert.Empty(Directory.GetFiles(records.Directory!, "*.tmp"));
    }

    [Fact]
    public void RecordWithoutArchitecturesRoundTrips()
    {
        var library = NewLibrary();
        var records = NewRecords();

        records.Write(library, new CompilerFacts("nvrtc 11.1", []));

        var read = records.TryRead(library);
        Assert.NotNull(read);
        Assert.Equal("nvrtc 11.1", read.Version);
        Assert.Empty(read.SupportedArchitectures);
    }

    [Fact]
    public void ANewerModificationTimeVoidsTheRecord()
    {
        var library = NewLibrary();
        var records = NewRecords();
        records.Write(library, Facts);

        File.SetLastWriteTimeUtc(library, File.GetLastWriteTimeUtc(library).AddSeconds(1));

        Assert.Null(records.TryRead(library));
    }

    [Fact]
    public void ADifferentSizeVoidsTheRecord()
    {
        var library = NewLibrary();
        var records = NewRecords();
        records.Write(library, Facts);
        var modified = File.GetLastWriteTimeUtc(library);

        File.AppendAllText(library, "x");
        File.SetLastWriteTimeUtc(library, modified);   // same mtime: the size alone must tell

        Assert.Null(records.TryRead(library));
    }

    [Fact]
    public void AFileRenamedOverTheLibraryWithTheSameSizeAndMtimeVoidsTheRecord()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("Inode and ctime are read with Linux's statx.");
        var library = NewLibrary(content: "build A");
        var records = NewRecords();
        records.Write(library, Facts);
        var modified = File.GetLastWriteTimeUtc(library);

        // What a package manager does: write the new file beside it, restore the archive's mtime, rename over it.
        var replacement = library + ".dpkg-new";
        File.WriteAllText(replacement, "build B");
        File.SetLastWriteTimeUtc(replacement, modified);
        File.Move(replacement, library, overwrite: true);

        Assert.Null(records.TryRead(library));
    }

    [Fact]
    public void TwoLibrariesKeepTheirOwnRecords()
    {
        var first = NewLibrary("libnvrtc.so.12");
        var second = NewLibrary("libnvrtc.so.13");
        var records = NewRecords();

        records.Write(first, new CompilerFacts("nvrtc 12.8", [90]));
        records.Write(second, new CompilerFacts("nvrtc 13.0", [90, 100]));

        Assert.NotEqual(records.PathFor(first), records.PathFor(second));
        Assert.Equal("nvrtc 12.8", records.TryRead(first)?.Version);
        Assert.Equal("nvrtc 13.0", records.TryRead(second)?.Version);
    }

    [Fact]
    public void ARecordIsNotUsedForAnotherPathWithTheSameContent()
    {
        var library = NewLibrary();
        var records = NewRecords();
        records.Write(library, Facts);
        var copy = _directory.Combine("lib", "copy.so");
        File.Copy(library, copy);
        File.Copy(records.PathFor(library)!, records.PathFor(copy)!);

        Assert.Null(records.TryRead(copy));
    }

    [Theory]
    [InlineData("edited version")]
    [InlineData("edited architectures")]
    [InlineData("other format version")]
    [InlineData("truncated")]
    [InlineData("empty")]
    [InlineData("garbage")]
    public void ACorruptRecordIsIgnored(string damage)
    {
        var library = NewLibrary();
        var records = NewRecords();
        records.Write(library, Facts);
        var recordPath = records.PathFor(library)!;
        var text = File.ReadAllText(recordPath);

        File.WriteAllText(recordPath, damage switch
        {
            "edited version" => text.Replace("version fake 11.8", "version fake 12.8", StringComparison.Ordinal),
            "edited architectures" => text.Replace("89,90", "89,90,100", StringComparison.Ordinal),
            "other format version" => text.Replace("moeopgen-compiler-identity 2", "moeopgen-compiler-identity 3", StringComparison.Ordinal),
            "truncated" => text[..(text.Length / 2)],
            "empty" => "",
            _ => "\0\u0001 not a record \n version x\n architectures y\n",
        });

        Assert.NotEqual(text, File.ReadAllText(recordPath));   // the damage happened
        Assert.Null(records.TryRead(library));
    }

    [Fact]
    public void ARecordWithAnotherWriterIsIgnored()
    {
        var library = NewLibrary();
        var identity = LibraryFileIdentity.Of(library)!.Value;
        var text = CompilerIdentityRecords.Serialize(identity, Facts);
        var writerLine = text.Split('\n')[1];

        Assert.StartsWith("writer ", writerLine, StringComparison.Ordinal);
        Assert.NotNull(CompilerIdentityRecords.Parse(text, identity));
        Assert.Null(CompilerIdentityRecords.Parse(text.Replace(writerLine, "writer 0123456789abcdef0123456789abcdef", StringComparison.Ordinal), identity));
    }

    [Fact]
    public void MissingLibraryOrDirectoryGivesNoRecord()
    {
        var records = NewRecords();
        Assert.Null(records.TryRead(_directory.Combine("lib", "absent.so")));
        records.Write(_directory.Combine("lib", "absent.so"), Facts);   // nothing to identify: nothing written
        Assert.False(Directory.Exists(records.Directory));

        var memoryOnly = new CompilerIdentityRecords(null);
        var library = NewLibrary();
        memoryOnly.Write(library, Facts);
        Assert.Null(memoryOnly.TryRead(library));
        Assert.Null(memoryOnly.PathFor(library));
    }

    [Fact]
    public void IdentityReadsSizeMtimeAndOnLinuxInode()
    {
        var library = NewLibrary(content: "12345");
        var identity = LibraryFileIdentity.Of(library);

        Assert.NotNull(identity);
        Assert.Equal(library, identity.Value.Path);
        Assert.Equal(5, identity.Value.Size);
        long expectedNs = (File.GetLastWriteTimeUtc(library) - DateTime.UnixEpoch).Ticks * 100;
        Assert.InRange(identity.Value.ModifiedNs, expectedNs, expectedNs + 99);   // .NET keeps 100 ns ticks
        if (OperatingSystem.IsLinux())
        {
            Assert.NotEqual(0UL, identity.Value.Inode);
            Assert.NotEqual(0L, identity.Value.ChangedNs);
        }
        Assert.Null(LibraryFileIdentity.Of(_directory.Combine("absent")));
    }
}
