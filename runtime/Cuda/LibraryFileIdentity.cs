using System;
using System.IO;
using System.Runtime.InteropServices;

namespace MoeOpGen.Cuda;

/// <summary>
/// What identifies a native library file without opening it: its full path, size and modification time (ccache's
/// default <c>compiler_check = mtime</c>), and on Linux also the device, inode and status-change time from
/// <c>statx</c>. A package upgrade or a copy over the file changes the size, the mtime or (when a package manager
/// restores the archive's mtime) the inode and ctime, which no user can set back; see
/// <see cref="CompilerIdentityRecords"/> for why this is exact enough to stand for the library's version.
/// </summary>
/// <param name="Path">The full path as the resolver names it (symbolic links are followed for the other fields).</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="ModifiedNs">mtime, nanoseconds since the Unix epoch (100 ns resolution where <c>statx</c> is absent).</param>
/// <param name="ChangedNs">ctime in nanoseconds; 0 where <c>statx</c> is absent (Windows, macOS, old glibc).</param>
/// <param name="Device">Device number (major &lt;&lt; 32 | minor); 0 where <c>statx</c> is absent.</param>
/// <param name="Inode">Inode number; 0 where <c>statx</c> is absent.</param>
internal readonly partial record struct LibraryFileIdentity(string Path, long Size, long ModifiedNs, long ChangedNs, ulong Device, ulong Inode)
{
    /// <summary>The identity of the file at <paramref name="path"/> (a full path), or null when it does not exist
    /// or cannot be examined.</summary>
    public static LibraryFileIdentity? Of(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsLinux() && TryStatx(path, out var identity)) return identity;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return null;
            long modifiedNs = (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;
            return new LibraryFileIdentity(path, info.Length, modifiedNs, 0, 0, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    // statx(2) rather than stat(2): its struct has one layout on every Linux architecture (stat's differs), so a
    // fixed set of offsets is right everywhere (fields in native byte order); glibc has had it since 2.28 (2018).
    private const int AtFdCwd = -100;
    private const uint StatxBasicStats = 0x7ff;
    private const int StatxSize = 256;
    private const int InodeOffset = 32, SizeOffset = 40, ChangedOffset = 96, ModifiedOffset = 112, DeviceMajorOffset = 136;

    private static unsafe bool TryStatx(string path, out LibraryFileIdentity identity)
    {
        identity = default;
        byte* buffer = stackalloc byte[StatxSize];
        int result;
        try
        {
            result = LibcNative.statx(AtFdCwd, path, 0, StatxBasicStats, buffer);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // musl or a glibc before 2.28: the caller falls back to size and mtime
        }
        if (result != 0) return false;
        var s = new ReadOnlySpan<byte>(buffer, StatxSize);
        identity = new LibraryFileIdentity(
            path,
            Size: (long)MemoryMarshal.Read<ulong>(s[SizeOffset..]),
            ModifiedNs: Nanoseconds(s[ModifiedOffset..]),
            ChangedNs: Nanoseconds(s[ChangedOffset..]),
            Device: ((ulong)MemoryMarshal.Read<uint>(s[DeviceMajorOffset..]) << 32)
                    | MemoryMarshal.Read<uint>(s[(DeviceMajorOffset + 4)..]),
            Inode: MemoryMarshal.Read<ulong>(s[InodeOffset..]));
        return true;
    }

    /// <summary>A <c>struct statx_timestamp</c> (signed seconds, then nanoseconds) as nanoseconds.</summary>
    // Seconds read as ulong and reinterpreted: the framework has precompiled code for Read<ulong> but not for
    // Read<long>, which a new process JIT-compiled on the warm path.
    private static long Nanoseconds(ReadOnlySpan<byte> timestamp) =>
        unchecked((long)MemoryMarshal.Read<ulong>(timestamp)) * 1_000_000_000L + MemoryMarshal.Read<uint>(timestamp[8..]);

    private static unsafe partial class LibcNative
    {
        // "libc" is mapped to the C library's soname by the .NET runtime on Linux.
        [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = false)]
        public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
    }
}
