using System;
using System.Buffers.Binary;
using System.Numerics;

namespace MoeOpGen.Cuda;

/// <summary>
/// SHA-256 (FIPS 180-4) in managed code, incremental: <see cref="Append"/> any number of times, then
/// <see cref="Finish"/>. Used for the kernel cache's content keys and entry checksums instead of
/// <see cref="System.Security.Cryptography.SHA256"/>.
/// </summary>
/// <remarks>
/// Why hand-written: on Linux .NET's SHA-256 is OpenSSL's, and the first hash of a process loads libcrypto and
/// initialises OpenSSL — 3.2–3.7 ms measured on the development machine (a probe hashing 1 KB in a fresh process;
/// 0.01 ms for the second hash), most of issue 3's 5 ms budget for a process's first warm-cache kernel, which needs
/// exactly one key and one checksum. No served managed SHA-256 is small enough to ship for this (BouncyCastle is
/// 6 MB; the GPU bundle has 2 MiB left). The hashed data is small (a module's source, tens to hundreds of KB; a
/// cubin), so the scalar speed (a few hundred MB/s) costs well under a millisecond. Checked against .NET's
/// SHA-256 and the FIPS 180-2 test vectors in <c>Sha256Tests</c>.
/// </remarks>
internal struct Sha256
{
    public const int HashSize = 32;
    private const int BlockSize = 64;

    private static ReadOnlySpan<uint> RoundConstants =>
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    private State _state;
    private Block _pending;
    private int _pendingLength;
    private long _totalLength;

    /// <summary>A hash of nothing yet.</summary>
    public Sha256()
    {
        _state = default;
        Span<uint> h = _state;
        h[0] = 0x6a09e667; h[1] = 0xbb67ae85; h[2] = 0x3c6ef372; h[3] = 0xa54ff53a;
        h[4] = 0x510e527f; h[5] = 0x9b05688c; h[6] = 0x1f83d9ab; h[7] = 0x5be0cd19;
    }

    /// <summary>The SHA-256 of <paramref name="data"/>, written to <paramref name="destination"/> (32 bytes).</summary>
    public static void HashData(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var hash = new Sha256();
        hash.Append(data);
        hash.Finish(destination);
    }

    /// <summary>Adds <paramref name="data"/> to the hashed message.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _totalLength += data.Length;
        Span<byte> pending = _pending;
        if (_pendingLength > 0)
        {
            int take = Math.Min(BlockSize - _pendingLength, data.Length);
            data[..take].CopyTo(pending[_pendingLength..]);
            _pendingLength += take;
            data = data[take..];
            if (_pendingLength < BlockSize) return;
            Compress(_state, pending);
            _pendingLength = 0;
        }
        for (; data.Length >= BlockSize; data = data[BlockSize..]) Compress(_state, data[..BlockSize]);
        data.CopyTo(pending);
        _pendingLength = data.Length;
    }

    /// <summary>Pads the message, writes its hash to <paramref name="destination"/> (32 bytes) and leaves this
    /// instance spent (append to a new one).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 32 bytes.</exception>
    public void Finish(Span<byte> destination)
    {
        if (destination.Length < HashSize)
            throw new ArgumentException($"The destination needs {HashSize} bytes.", nameof(destination));
        long bitLength = _totalLength * 8;
        // Padding: a 1 bit, zeros up to 56 mod 64 bytes, the message length in bits (big-endian).
        Span<byte> padding = stackalloc byte[BlockSize + 8];
        padding.Clear();
        padding[0] = 0x80;
        int zeros = (BlockSize + 56 - (_pendingLength + 1) % BlockSize) % BlockSize;
        BinaryPrimitives.WriteInt64BigEndian(padding[(1 + zeros)..], bitLength);
        Append(padding[..(1 + zeros + 8)]);
        ReadOnlySpan<uint> h = _state;
        for (int i = 0; i < 8; i++) BinaryPrimitives.WriteUInt32BigEndian(destination[(4 * i)..], h[i]);
    }

    private static void Compress(Span<uint> h, ReadOnlySpan<byte> block)
    {
        Span<uint> w = stackalloc uint[64];
        for (int i = 0; i < 16; i++) w[i] = BinaryPrimitives.ReadUInt32BigEndian(block[(4 * i)..]);
        for (int i = 16; i < 64; i++)
        {
            uint s0 = BitOperations.RotateRight(w[i - 15], 7) ^ BitOperations.RotateRight(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint s1 = BitOperations.RotateRight(w[i - 2], 17) ^ BitOperations.RotateRight(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        var k = RoundConstants;
        for (int i = 0; i < 64; i++)
        {
            uint t1 = hh + (BitOperations.RotateRight(e, 6) ^ BitOperations.RotateRight(e, 11) ^ BitOperations.RotateRight(e, 25))
                      + ((e & f) ^ (~e & g)) + k[i] + w[i];
            uint t2 = (BitOperations.RotateRight(a, 2) ^ BitOperations.RotateRight(a, 13) ^ BitOperations.RotateRight(a, 22))
                      + ((a & b) ^ (a & c) ^ (b & c));
            hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }

    [System.Runtime.CompilerServices.InlineArray(8)]
    private struct State
    {
        private uint _element;
    }

    [System.Runtime.CompilerServices.InlineArray(BlockSize)]
    private struct Block
    {
        private byte _element;
    }
}
