using System.IO;

namespace MoeOpGen.Generator.Emit;

/// <summary>
/// The kernel skeletons every operator shares (Templates/*.cu, embedded in the generator): memory movement,
/// variants and reductions live there once; each operator contributes only its maths as device functions.
/// </summary>
internal static class CudaTemplates
{
    public static readonly string Preamble = Read("Preamble.cu");
    public static readonly string Gated = Read("GatedKernels.cu");
    public static readonly string Unary = Read("UnaryKernels.cu");

    private static string Read(string name)
    {
        using var stream = typeof(CudaTemplates).Assembly.GetManifestResourceStream("MoeOpGen.Generator.Templates." + name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("\r\n", "\n");
    }
}
