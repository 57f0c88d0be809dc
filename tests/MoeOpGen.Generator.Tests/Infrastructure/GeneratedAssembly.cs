using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;

namespace MoeOpGen.Generator.Tests.Infrastructure;

/// <summary>
/// The output of a generator run, emitted to memory and loaded into a collectible context so its generated
/// static methods can be called. MoeOpGen.Runtime and TorchSharp resolve from the default context (the test's
/// own references); nothing here touches libtorch's native code.
/// </summary>
internal sealed class GeneratedAssembly : IDisposable
{
    private readonly AssemblyLoadContext _context;

    public Assembly Assembly { get; }

    public GeneratedAssembly(Compilation output)
    {
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        if (!emitted.Success)
            throw new InvalidOperationException("The generated code does not compile:\n" + string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        image.Position = 0;
        _context = new AssemblyLoadContext("generated-" + output.AssemblyName, isCollectible: true);
        Assembly = _context.LoadFromStream(image);
    }

    /// <summary>Loads an image emitted elsewhere (when the caller needs the emit's diagnostics itself).</summary>
    public GeneratedAssembly(MemoryStream image, string name)
    {
        image.Position = 0;
        _context = new AssemblyLoadContext("generated-" + name, isCollectible: true);
        Assembly = _context.LoadFromStream(image);
    }

    /// <summary>
    /// A static method of the operator class whose first parameter is a <paramref name="firstParameter"/>: the scalar
    /// maths (float or double) rather than the tensor overloads of the same name.
    /// </summary>
    public MethodInfo StaticMethod(string typeName, string methodName, Type firstParameter)
        => Assembly.GetType(typeName, throwOnError: true)!.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
               .SingleOrDefault(m => m.Name == methodName && m.GetParameters().FirstOrDefault()?.ParameterType == firstParameter)
           ?? throw new MissingMethodException(typeName, methodName);

    public void Dispose() => _context.Unload();
}
