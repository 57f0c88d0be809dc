using System;
using System.Linq;
using System.Text;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>The managed SHA-256 of the kernel cache (Sha256) against the FIPS 180-2 vectors and .NET's own.</summary>
public class Sha256Tests
{
    private static string Hex(ReadOnlySpan<byte> message)
    {
        var digest = new byte[Sha256.HashSize];
        Sha256.HashData(message, digest);
        return Convert.ToHexString(digest).ToLowerInvariant();
    }

    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void MatchesTheFipsVectors(string message, string expected) =>
        Assert.Equal(expected, Hex(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void MatchesTheFipsMillionAVector() =>
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Hex(Enumerable.Repeat((byte)'a', 1_000_000).ToArray()));

    [Fact]
    public void MatchesDotNetForEveryLengthAroundTheBlockAndPaddingBoundaries()
    {
        var random = new Random(3);
        for (int length = 0; length <= 300; length++)
        {
            var message = new byte[length];
            random.NextBytes(message);
            Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(message)).ToLowerInvariant(), Hex(message));
        }
    }

    [Fact]
    public void AppendingInPiecesGivesTheHashOfTheWhole()
    {
        var random = new Random(5);
        var message = new byte[1000];
        random.NextBytes(message);
        foreach (int piece in new[] { 1, 7, 63, 64, 65, 200 })
        {
            var hash = new Sha256();
            for (int at = 0; at < message.Length; at += piece) hash.Append(message.AsSpan(at, Math.Min(piece, message.Length - at)));
            var digest = new byte[Sha256.HashSize];
            hash.Finish(digest);
            Assert.Equal(Hex(message), Convert.ToHexString(digest).ToLowerInvariant());
        }
    }

    [Fact]
    public void AShortDestinationIsRejectedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sha256().Finish(new byte[31]));
        Assert.Equal("destination", e.ParamName);
    }
}
