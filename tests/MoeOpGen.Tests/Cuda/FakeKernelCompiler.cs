using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using MoeOpGen.Cuda;

namespace MoeOpGen.Tests.Cuda;

/// <summary>A compiler that counts its calls and returns bytes derived from its inputs, so the cache's behaviour
/// can be tested without NVRTC.</summary>
internal sealed class FakeKernelCompiler(string version = "fake 1.0", TimeSpan? delay = null) : IKernelCompiler
{
    private int _compileCount;
    private Exception? _failNext;

    public int CompileCount => Volatile.Read(ref _compileCount);

    public string Version { get; } = version;

    public IReadOnlyList<int> SupportedArchitectures { get; } = [75, 80, 86, 89, 90];

    /// <summary>Makes the next compilation throw <paramref name="failure"/> (once).</summary>
    public void FailNextWith(Exception failure) => _failNext = failure;

    public CompiledKernel Compile(string source, string name, string arch, IReadOnlyList<string> options)
    {
        Interlocked.Increment(ref _compileCount);
        if (delay is { } wait) Thread.Sleep(wait);
        if (Interlocked.Exchange(ref _failNext, null) is { } failure) throw failure;
        var kind = arch.StartsWith("sm_", StringComparison.Ordinal) ? KernelImageKind.Cubin : KernelImageKind.Ptx;
        return new CompiledKernel(ImageFor(source, arch, options), kind, "");
    }

    public static byte[] ImageFor(string source, string arch, IReadOnlyList<string> options) =>
        Encoding.UTF8.GetBytes($"{arch}|{string.Join(' ', options)}|{source}\0");
}
