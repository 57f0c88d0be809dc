using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace MoeOpGen.Cuda;

/// <summary>What a process learnt about a compiler by loading it: the version that goes into cache keys and the
/// real architectures it can emit CUBINs for.</summary>
internal sealed record CompilerFacts(string Version, IReadOnlyList<int> SupportedArchitectures);

/// <summary>
/// Compiler-identity records in the kernel cache directory: one small file per compiler library path, mapping the
/// library file's identity (<see cref="LibraryFileIdentity"/>) to the <see cref="CompilerFacts"/> a process read
/// from it after loading it for real. A later process that resolves the same file with the same identity takes the
/// facts from the record and need not load NVRTC (a 54 MB library, ~10 ms with its resolution) to look up a kernel
/// it already has on disk.
/// </summary>
/// <remarks>
/// <para>Why this is exact enough: it is ccache's <c>compiler_check = mtime</c> (a compiler is identified by its
/// file's size and mtime), strengthened where Linux gives more by the device, inode and ctime. Replacing the library
/// (a package upgrade, a new toolkit, a copy over it) changes its size or mtime, and a rename over it (what package
/// managers do) changes the inode and ctime even when the archive's mtime is restored; ctime cannot be set by a user.
/// What it cannot see is a library whose own dependencies change under it (e.g. libnvrtc-builtins swapped alone),
/// which ccache accepts too; <c>MOEOPGEN_CACHE_DIR</c> pointing at a fresh directory, or deleting the
/// <c>*.identity</c> files, forces a real load.</para>
/// <para>A record is used only if it is byte-for-byte what this build would write for the library's current identity:
/// same format version, same writer (the runtime assembly's module version id, so a record written by another build
/// of MoeOpGen, whose compiler version string might be formed differently, is never trusted), same path and
/// identity, and a CRC-32C over all of it. Anything else (absent, torn, edited, foreign) is ignored, and the caller
/// loads the compiler and writes a fresh record. Writes are atomic (temporary file + rename, as
/// <see cref="KernelDiskCache"/>); failures are silent because the record is only an optimisation, and the kernel
/// cache already warns about an unwritable directory.</para>
/// </remarks>
internal sealed class CompilerIdentityRecords(string? directory)
{
    /// <summary>Bump when the record's content or meaning changes.</summary>
    /// <remarks>2: named and checksummed by CRC-32C (1: SHA-256).</remarks>
    public const int FormatVersion = 2;

    private const string Magic = "moeopgen-compiler-identity";
    private const string Extension = ".identity";

    /// <summary>The directory of the records (the kernel cache's), or null when there is none (nothing is kept).</summary>
    public string? Directory { get; } = directory;

    /// <summary>The record file for the library at <paramref name="libraryPath"/> (a full path), or null when memory-only.
    /// Named by a hash of the path, so two compilers on one machine never overwrite each other's record.</summary>
    public string? PathFor(string libraryPath)
    {
        if (Directory is null) return null;
        // A CRC rather than a cryptographic hash (see Crc32C for why): two paths sharing a name only take turns in one
        // file, since a record is used only for the very path it names.
        return Path.Combine(Directory, "compiler-" + Crc32C.ComputeHex(Encoding.UTF8.GetBytes(libraryPath)) + Extension);
    }

    /// <summary>The facts recorded for <paramref name="libraryPath"/>, or null unless a valid record matches the
    /// file's current identity.</summary>
    public CompilerFacts? TryRead(string libraryPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(libraryPath);
        if (Directory is null) return null;
        long started = KernelLoadPhases.Start();
        var found = LibraryFileIdentity.Of(libraryPath);
        KernelLoadPhases.Stop(started, KernelLoadPhases.LibraryIdentity);
        // A pattern, not .Value: Nullable<T>.Value over our struct has no precompiled code (JIT in a new process).
        if (found is not { } identity) return null;
        started = KernelLoadPhases.Start();
        try
        {
            // Bytes then UTF-8, as the kernel cache reads its entries: File.ReadAllText's reader and decoder set-up
            // cost a new process's first kernel load about 0.5 ms more, and a record never has a byte-order mark.
            var text = Encoding.UTF8.GetString(File.ReadAllBytes(PathFor(libraryPath)!));
            return Parse(text, identity);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
        finally
        {
            KernelLoadPhases.Stop(started, KernelLoadPhases.IdentityRecord);
        }
    }

    /// <summary>Records <paramref name="facts"/> for the library at <paramref name="libraryPath"/> as it is now.</summary>
    public void Write(string libraryPath, CompilerFacts facts)
    {
        ArgumentException.ThrowIfNullOrEmpty(libraryPath);
        ArgumentNullException.ThrowIfNull(facts);
        var recordPath = PathFor(libraryPath);
        if (recordPath is null || LibraryFileIdentity.Of(libraryPath) is not { } identity) return;
        if (facts.Version.Contains('\n') || identity.Path.Contains('\n')) return;   // would not parse back
        var temporary = $"{recordPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Directory!);
            File.WriteAllText(temporary, Serialize(identity, facts), new UTF8Encoding(false));
            File.Move(temporary, recordPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // A leftover temporary file is never read as a record.
            }
        }
    }

    /// <summary>The record's text: one <c>name value</c> per line, the last a CRC-32C of all lines before it.</summary>
    internal static string Serialize(LibraryFileIdentity identity, CompilerFacts facts)
    {
        var text = new StringBuilder();
        text.Append(Magic).Append(' ').Append(FormatVersion.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("writer ").Append(WriterId).Append('\n');
        text.Append("path ").Append(identity.Path).Append('\n');
        Line(text, "size", identity.Size);
        Line(text, "mtime_ns", identity.ModifiedNs);
        Line(text, "ctime_ns", identity.ChangedNs);
        text.Append("device ").Append(identity.Device.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("inode ").Append(identity.Inode.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("version ").Append(facts.Version).Append('\n');
        text.Append("architectures ");
        for (int i = 0; i < facts.SupportedArchitectures.Count; i++)
        {
            if (i > 0) text.Append(',');
            text.Append(facts.SupportedArchitectures[i].ToString(CultureInfo.InvariantCulture));
        }
        text.Append('\n');
        var body = text.ToString();
        return body + "crc32c " + Crc32C.ComputeHex(Encoding.UTF8.GetBytes(body)) + "\n";
    }

    /// <summary>The facts in <paramref name="text"/> if it is exactly the record this build writes for
    /// <paramref name="identity"/> with them; null otherwise.</summary>
    internal static CompilerFacts? Parse(string text, LibraryFileIdentity identity)
    {
        // Only the version and the architectures are read; everything else is checked by serialising them again
        // for the identity seen now and comparing the whole text, which covers the format, the writer, the path,
        // the identity and the checksum at once. They are the last lines but the checksum's, so a path that
        // contained a newline could not be mistaken for them.
        // Spans and a hand-written digit loop rather than string.LastIndexOf / Split / int.TryParse: with those this
        // method cost 2.7 ms on its first call in a process (0.47 ms now; culture and CompareInfo set-up is the likely
        // part), as much as the NVRTC load this record is there to avoid.
        var span = text.AsSpan();
        int version = span.LastIndexOf("\nversion ".AsSpan());
        int architectures = span.LastIndexOf("\narchitectures ".AsSpan());
        if (version < 0 || architectures < version) return null;
        int architecturesEnd = text.IndexOf('\n', architectures + 1);
        if (architecturesEnd < 0) return null;
        var versionText = text.Substring(version + "\nversion ".Length, architectures - version - "\nversion ".Length);
        var archText = span[(architectures + "\narchitectures ".Length)..architecturesEnd];
        var archs = new List<int>();
        int value = 0, digits = 0;
        for (int i = 0; i <= archText.Length; i++)
        {
            if (i == archText.Length || archText[i] == ',')
            {
                if (digits == 0)
                {
                    if (i == archText.Length && archs.Count == 0 && archText.Length == 0) break;   // no architectures
                    return null;
                }
                archs.Add(value);
                value = digits = 0;
            }
            else if (archText[i] is >= '0' and <= '9' && digits < 6)
            {
                value = value * 10 + (archText[i] - '0');
                digits++;
            }
            else
            {
                return null;
            }
        }
        // The list itself rather than an array: calls through IReadOnlyList<int> on an int[] (Serialize below, the
        // target selection) go through SZArrayHelper<int>, JIT-compiled on first use; List<int>'s code is precompiled.
        var facts = new CompilerFacts(versionText, archs);
        return Serialize(identity, facts).AsSpan().SequenceEqual(span) ? facts : null;
    }

    private static void Line(StringBuilder text, string name, long value) =>
        text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>This build of MoeOpGen.Runtime (its module version id changes with every change of its code).</summary>
    /// Hex-encoded by <see cref="KernelCacheKey.ToHex"/>: Guid.ToString JIT-compiles a vectorised formatter on first use.
    private static string WriterId
    {
        get
        {
            Span<byte> id = stackalloc byte[16];
            typeof(CompilerIdentityRecords).Assembly.ManifestModule.ModuleVersionId.TryWriteBytes(id);
            return KernelCacheKey.ToHex(id);
        }
    }
}
