using System;
using System.Buffers.Binary;
using System.Numerics;

namespace MoeOpGen.Cuda;

/// <summary>
/// CRC-32C (Castagnoli; initial and final value all ones, as iSCSI and ext4 use it), eight bytes per step of the
/// CPU's CRC instruction where it has one (<see cref="BitOperations.Crc32C(uint, ulong)"/>).
/// </summary>
/// <remarks>The checksum of kernel cache entries and compiler-identity records, which a new process verifies on its
/// first kernel load: SHA-256 there cost 0.2-0.5 ms of managed hashing per cubin, where this takes microseconds and
/// detects the damage a cache file suffers (truncation, flipped or zeroed blocks) as well. Cache keys stay SHA-256:
/// they name content, they are not checksums.</remarks>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }

    /// <summary><see cref="Compute"/> as eight lowercase hex digits, most significant first.</summary>
    public static string ComputeHex(ReadOnlySpan<byte> data)
    {
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(value, Compute(data));
        return KernelCacheKey.ToHex(value);
    }
}
