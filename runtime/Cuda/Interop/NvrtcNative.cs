using System;
using System.Runtime.InteropServices;

namespace MoeOpGen.Cuda.Interop;

/// <summary>
/// Source-generated imports of NVRTC (<c>nvrtc.h</c>). Every function but <c>nvrtcGetErrorString</c> returns an
/// <c>nvrtcResult</c>; call them through <see cref="NvrtcCompiler"/>, which checks it.
/// </summary>
internal static unsafe partial class NvrtcNative
{
    private const string Lib = CudaLibraries.NvrtcImportName;

    static NvrtcNative() => CudaLibraries.EnsureResolverRegistered();

    public const int NVRTC_SUCCESS = 0;

    [LibraryImport(Lib)] public static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] public static partial int nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(Lib)] public static partial int nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int nvrtcCreateProgram(out IntPtr program, string source, string name,
                                                 int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial int nvrtcCompileProgram(IntPtr program, int numOptions, byte** options);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLogSize(IntPtr program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLog(IntPtr program, byte* log);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTXSize(IntPtr program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTX(IntPtr program, byte* ptx);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBINSize(IntPtr program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBIN(IntPtr program, byte* cubin);
    [LibraryImport(Lib)] public static partial byte* nvrtcGetErrorString(int result);
    [LibraryImport(Lib)] public static partial int nvrtcDestroyProgram(ref IntPtr program);
}
