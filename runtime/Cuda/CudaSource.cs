namespace MoeOpGen.Cuda;

/// <summary>The CUDA C++ source of one module (one operator), as emitted by the generator.</summary>
/// <param name="ModuleName">A stable name for logs, cache entries and NVRTC's program name.</param>
/// <param name="Code">Header-free CUDA C++ with <c>extern "C"</c> kernels.</param>
public sealed record CudaSource(string ModuleName, string Code);
