using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text;

namespace MoeOpGen.Cuda;

/// <summary>
/// The content address of a compiled module: SHA-256 over everything that decides the binary — the program name (it
/// is embedded in line info), the options in order, the target architecture, the compiler version and the SHA-256 of
/// the source — so a change in any of them gives a new key and a stale binary can never be served.
/// </summary>
/// <remarks>
/// The source enters through its own digest, computed once per source string and remembered for as long as that
/// string lives, or taken from the digest its author stated (<see cref="CudaSource.CodeSha256"/>, which the generator
/// emits): the per-kernel compile units of one module (<see cref="CudaSource.CompileUnit"/>) share their
/// module's source text (the same string object) and differ only in an option, so the 2nd..Nth kernel of a module
/// hashes a few hundred bytes instead of the module's ~100 KB again (0.7 ms a kernel on an H200 machine).
/// Remembered by the string's identity, not on the <see cref="CudaSource"/> record: a field there would take part in
/// the record's generated equality. Equal text in another string object is hashed again, to the same digest.
/// </remarks>
internal static class KernelCacheKey
{
    /// <summary>Bumped when the key's composition changes, which invalidates every existing entry.</summary>
    /// <remarks>2: the source enters as its SHA-256 (1 hashed the source text itself, last).</remarks>
    private const string Scheme = "moeopgen-kernel-key/2";

    // Keyed by reference: a lookup costs the string's identity hash, never a pass over its characters.
    private static readonly ConditionalWeakTable<string, byte[]> s_sourceDigests = new();

    /// <summary>The key as 64 lowercase hex digits.</summary>
    /// <remarks>With <paramref name="sourceSha256"/> (the source's digest as its author stated it,
    /// <see cref="CudaSource.CodeSha256"/>) the source is not hashed; null hashes it.</remarks>
    public static string Compute(string moduleName, string source, IReadOnlyList<string> options, string arch,
                                 string compilerVersion, string? sourceSha256 = null)
    {
        ArgumentNullException.ThrowIfNull(moduleName);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(arch);
        ArgumentNullException.ThrowIfNull(compilerVersion);

        // Sha256 rather than .NET's (OpenSSL): see Sha256 for why.
        var hash = new Sha256();
        // Each field is length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
        Append(ref hash, Scheme);
        Append(ref hash, compilerVersion);
        Append(ref hash, arch);
        Append(ref hash, moduleName);
        Append(ref hash, options.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var option in options) Append(ref hash, option);
        Append(ref hash, SourceDigest(source, sourceSha256));
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        hash.Finish(digest);
        return ToHex(digest);
    }

    /// <summary>SHA-256 of <paramref name="source"/>'s UTF-8 bytes: <paramref name="statedSha256"/> (64 lowercase hex
    /// digits) when given, else computed on the first call for this string object and remembered.</summary>
    /// <remarks>A stated digest is never remembered for the string: it is only checked before a compilation, and a
    /// wrong one must not become the digest of other sources that share the string (equal literals are one object).</remarks>
    internal static ReadOnlySpan<byte> SourceDigest(string source, string? statedSha256 = null) =>
        statedSha256 is not null ? FromHex(statedSha256) : s_sourceDigests.GetValue(source, static text => Sha256Of(text));

    /// <summary>SHA-256 of <paramref name="text"/>'s UTF-8 bytes.</summary>
    private static byte[] Sha256Of(string text)
    {
        var digest = new byte[Sha256.HashSize];
        Sha256.HashData(Encoding.UTF8.GetBytes(text), digest);
        return digest;
    }

    /// <summary>Lowercase hex digits (already validated) as bytes; a loop for the reason <see cref="ToHex"/> is one.</summary>
    private static byte[] FromHex(string hex)
    {
        static int Digit(char c) => c <= '9' ? c - '0' : c - 'a' + 10;
        var bytes = new byte[hex.Length / 2];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(Digit(hex[2 * i]) << 4 | Digit(hex[2 * i + 1]));
        return bytes;
    }

    /// <summary><paramref name="bytes"/> as lowercase hex digits.</summary>
    /// <remarks>Not <see cref="Convert.ToHexString(byte[])"/>: its vectorised helpers are generic methods that the
    /// framework's precompiled code lacks, so a process's first call JIT-compiles them (about half a millisecond
    /// measured on the first warm-cache kernel); this loop is precompiled with the runtime.</remarks>
    public static string ToHex(ReadOnlySpan<byte> bytes)
    {
        const string digits = "0123456789abcdef";
        Span<char> text = stackalloc char[2 * bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            text[2 * i] = digits[bytes[i] >> 4];
            text[2 * i + 1] = digits[bytes[i] & 0xF];
        }
        return new string(text);
    }

    private static void Append(ref Sha256 hash, string field) => Append(ref hash, Encoding.UTF8.GetBytes(field));

    private static void Append(ref Sha256 hash, ReadOnlySpan<byte> bytes)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
        hash.Append(length);
        hash.Append(bytes);
    }
}
