using System;
using System.Text;

namespace MoeOpGen.Cuda;

/// <summary>What a compiled CUDA module image holds.</summary>
public enum KernelImageKind
{
    /// <summary>Machine code (an ELF CUBIN) for one real architecture, e.g. <c>sm_90</c>: loads without JIT.</summary>
    Cubin = 1,

    /// <summary>PTX for a virtual architecture, e.g. <c>compute_90</c>: the driver JIT-compiles it at load time.</summary>
    Ptx = 2,
}

/// <summary>The output of one NVRTC compilation.</summary>
/// <param name="Image">The CUBIN bytes, or the PTX text as UTF-8 ending with a NUL (as the driver wants it).</param>
/// <param name="Kind">Whether <paramref name="Image"/> is a CUBIN or PTX.</param>
/// <param name="Log">The NVRTC log (warnings; empty when there were none).</param>
public sealed record CompiledKernel(byte[] Image, KernelImageKind Kind, string Log)
{
    /// <summary>The PTX as text (without the trailing NUL); throws for a CUBIN.</summary>
    public string PtxText => Kind == KernelImageKind.Ptx
        ? Encoding.UTF8.GetString(Image).TrimEnd('\0')
        : throw new InvalidOperationException("This image is a CUBIN, not PTX.");
}
