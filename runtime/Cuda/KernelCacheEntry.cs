using System;
using System.Buffers.Binary;

namespace MoeOpGen.Cuda;

/// <summary>
/// The on-disk format of one cached module image: a fixed header, then the payload.
/// <code>
/// offset size  field
///      0    8  magic "MOEOPGNK"
///      8    4  format version (uint32 LE), currently 2
///     12    4  payload kind (uint32 LE): 1 = CUBIN, 2 = PTX
///     16    8  payload length in bytes (int64 LE)
///     24   32  the cache key (SHA-256) the entry was written for
///     56    4  CRC-32C of the payload (uint32 LE)
///     60    …  payload
/// </code>
/// The key in the header catches a file copied or renamed from another key; the payload checksum and the exact
/// length catch truncation and corruption (CuPy prefixes its cubins with their hash for the same reason).
/// </summary>
/// <remarks>Version 1 checked the payload with SHA-256; why <see cref="Crc32C"/> now: see there.</remarks>
internal static class KernelCacheEntry
{
    public const int HeaderSize = 60;
    public const uint FormatVersion = 2;
    private static ReadOnlySpan<byte> Magic => "MOEOPGNK"u8;

    /// <summary>Serializes <paramref name="kernel"/> for key <paramref name="keyHex"/>.</summary>
    public static byte[] Serialize(string keyHex, CompiledKernel kernel)
    {
        var payload = kernel.Image;
        var bytes = new byte[HeaderSize + payload.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)kernel.Kind);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], payload.Length);
        Convert.FromHexString(keyHex).CopyTo(span[24..56]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[56..], Crc32C.Compute(payload));
        payload.CopyTo(span[HeaderSize..]);
        return bytes;
    }

    /// <summary>The kernel in <paramref name="bytes"/>, or null with the reason it was rejected.</summary>
    public static CompiledKernel? TryParse(string keyHex, ReadOnlySpan<byte> bytes, out string? rejection)
    {
        rejection = Validate(keyHex, bytes);
        if (rejection is not null) return null;
        var kind = (KernelImageKind)BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        return new CompiledKernel(bytes[HeaderSize..].ToArray(), kind, "");
    }

    private static string? Validate(string keyHex, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderSize) return $"shorter ({bytes.Length} bytes) than the header";
        if (!bytes[..8].SequenceEqual(Magic)) return "not a MoeOpGen kernel cache entry (bad magic)";
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion) return $"format version {version}, expected {FormatVersion}";
        uint kind = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        if (kind is not ((uint)KernelImageKind.Cubin or (uint)KernelImageKind.Ptx)) return $"unknown payload kind {kind}";
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        if (length != bytes.Length - HeaderSize)
            return $"payload length {bytes.Length - HeaderSize} bytes, header says {length} (truncated?)";
        // Compared as hex (keys are lowercase hex, see KernelCacheKey.ToHex) rather than by parsing keyHex, whose
        // parser is JIT-compiled on first use.
        if (!KernelCacheKey.ToHex(bytes[24..56]).Equals(keyHex, StringComparison.Ordinal)) return "written for another key";
        if (Crc32C.Compute(bytes[HeaderSize..]) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[56..])) return "payload checksum mismatch (corrupted)";
        return null;
    }
}
