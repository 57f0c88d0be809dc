using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace MoeOpGen.Cuda;

/// <summary>
/// The content address of a compiled module: SHA-256 over everything that decides the binary — the source, the
/// program name (it is embedded in line info), the options in order, the target architecture and the compiler
/// version — so a change in any of them gives a new key and a stale binary can never be served.
/// </summary>
internal static class KernelCacheKey
{
    /// <summary>Bumped when the key's composition changes, which invalidates every existing entry.</summary>
    private const string Scheme = "moeopgen-kernel-key/1";

    /// <summary>The key as 64 lowercase hex digits.</summary>
    public static string Compute(string moduleName, string source, IReadOnlyList<string> options, string arch,
                                 string compilerVersion)
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
        Append(ref hash, source);
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        hash.Finish(digest);
        return ToHex(digest);
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

    private static void Append(ref Sha256 hash, string field)
    {
        var bytes = Encoding.UTF8.GetBytes(field);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
        hash.Append(length);
        hash.Append(bytes);
    }
}
