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
        // against an independent Python computation: SHA-256 over (int64 LE length, bytes) of the fields scheme,
        // compiler version, arch, name, option count, options (UTF-8) and the source's SHA-256 (32 bytes):
        //   f = lambda b: struct.pack('<q', len(b)) + b
        //   sha256(b''.join(map(f, [b"moeopgen-kernel-key/2", b"nvrtc 12.8", b"sm_90", b"m", b"2", *options,
        //                          sha256(source).digest()]))).hexdigest()
        Assert.Equal("69234026b51edf296cd69019acf569018b5c3ccbb84e2ae664ec725a9070d4db", Key());
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
    public void SourceDigestIsRememberedPerStringAndMatchesAFreshHash()
    {
        var source = new string(Source.ToCharArray());
        var expected = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Source));

        var first = KernelCacheKey.SourceDigest(source);
        var again = KernelCacheKey.SourceDigest(source);

        Assert.Equal(expected, first.ToArray());
        // The same memory: the second call looked the digest up instead of hashing again.
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(first),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(again)));
        // Equal text in another string object gives the same digest (hashed for that object).
        Assert.Equal(expected, KernelCacheKey.SourceDigest(new string(Source.ToCharArray())).ToArray());
    }

    [Fact]
    public void CompileUnitsOfOneModuleShareTheSourceDigestButNotTheKey()
    {
        var module = new CudaSource("two", """
            #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_a)
            extern "C" __global__ void a(float* x) { x[0] = 1.f; }
            #endif
            #if defined(MOG_ALL_KERNELS) || defined(MOG_KERNEL_b)
            extern "C" __global__ void b(float* x) { x[0] = 2.f; }
            #endif
            """) { CompiledPerKernel = true };
        var a = module.CompileUnit("a");
        var b = module.CompileUnit("b");

        Assert.Same(a.Code, b.Code);
        string KeyOf(CudaSource unit) => KernelCacheKey.Compute(unit.ModuleName, unit.Code, unit.Options, "sm_90", "nvrtc 12.8");
        Assert.NotEqual(KeyOf(a), KeyOf(b));
        // An edit of the shared source still changes each unit's key.
        var edited = (module with { Code = module.Code + "\n" }).CompileUnit("a");
        Assert.NotEqual(KeyOf(a), KeyOf(edited));
    }

    [Fact]
    public void FieldBoundariesCannotBeShifted()
    {
        // Without length prefixes these two would concatenate to the same bytes.
        Assert.NotEqual(Key(options: ["-a", "b"]), Key(options: ["-ab"]));
        Assert.NotEqual(Key(name: "ab", source: "c"), Key(name: "a", source: "bc"));
    }
}
