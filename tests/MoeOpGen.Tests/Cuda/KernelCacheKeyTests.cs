using System.Collections.Generic;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

public class KernelCacheKeyTests
{
    private const string Source = "extern \"C\" __global__ void k(float* x) { x[0] = 1.f; }";
    private static readonly IReadOnlyList<string> Options = ["-std=c++17", "-default-device"];

    private static string Key(string name = "m", string source = Source, IReadOnlyList<string>? options = null,
                              string arch = "sm_90", string version = "nvrtc 12.8") =>
        KernelCacheKey.Compute(name, source, options ?? Options, arch, version);

    [Fact]
    public void SameInputsGiveTheSameKey()
    {
        Assert.Equal(Key(), Key());
        // Equal content in distinct objects: the key depends on content, not identity.
        Assert.Equal(Key(source: new string(Source.ToCharArray())), Key(options: ["-std=c++17", "-default-device"]));
    }

    [Fact]
    public void KeyIsSha256InLowercaseHex()
    {
        var key = Key();
        Assert.Equal(64, key.Length);
        Assert.Matches("^[0-9a-f]{64}$", key);
    }

    [Fact]
    public void KeyIsStableAcrossReleases()
    {
        // Pinned so that an accidental change of the key scheme (which orphans every user's disk cache) shows up
        // here; change it deliberately, together with the scheme string in KernelCacheKey. The value was checked
        // against an independent Python computation: SHA-256 over (int64 LE length, UTF-8 bytes) of the fields
        // scheme, compiler version, arch, name, option count, options, source.
        Assert.Equal("21e47fd6f7c61e8b5fb47cb4c9ac5a4bbfdf28d91c9dcb39e2f587ce68363cc1", Key());
    }

    [Fact]
    public void ToHexIsLowercaseHexOfEveryByte()
    {
        var bytes = new byte[256];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)i;

        Assert.Equal(System.Convert.ToHexString(bytes).ToLowerInvariant(), KernelCacheKey.ToHex(bytes));
        Assert.Equal("", KernelCacheKey.ToHex([]));
    }

    [Fact]
    public void EveryInputChangesTheKey()
    {
        var baseline = Key();
        Assert.NotEqual(baseline, Key(source: Source + " "));
        Assert.NotEqual(baseline, Key(name: "m2"));
        Assert.NotEqual(baseline, Key(options: ["-std=c++17"]));
        Assert.NotEqual(baseline, Key(options: ["-default-device", "-std=c++17"]));   // order matters to NVRTC
        Assert.NotEqual(baseline, Key(options: [.. Options, "--use_fast_math"]));
        Assert.NotEqual(baseline, Key(arch: "sm_80"));
        Assert.NotEqual(baseline, Key(arch: "compute_90"));
        Assert.NotEqual(baseline, Key(version: "nvrtc 12.9"));
    }

    [Fact]
    public void FieldBoundariesCannotBeShifted()
    {
        // Without length prefixes these two would concatenate to the same bytes.
        Assert.NotEqual(Key(options: ["-a", "b"]), Key(options: ["-ab"]));
        Assert.NotEqual(Key(name: "ab", source: "c"), Key(name: "a", source: "bc"));
    }
}
