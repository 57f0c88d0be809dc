using System;

namespace MoeOpGen.Cuda;

/// <summary>
/// Marks a class whose public static properties of type <see cref="CudaSource"/> are CUDA modules, so that
/// <see cref="CudaKernels.Precompile(System.Reflection.Assembly, int, Func{string, bool})"/> and
/// <see cref="CudaKernels.SourcesIn"/> can find every module of an assembly without a hand-kept list. The
/// generator puts it on each operator it emits.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class CudaModuleAttribute : Attribute;
