using System.Collections.Generic;
using System.Linq;

namespace MoeOpGen.Generator.Parsing;

/// <summary>
/// Which user names can appear in the generated C# and CUDA code. A [Scalar] keeps its name everywhere (it is a
/// parameter of the public API), so a name that would break either language is a diagnostic; a local only lends
/// its name to a temporary, so an unusable one is silently replaced by <c>tN</c>.
/// </summary>
internal static class GeneratedNames
{
    /// <summary>Parameters and locals of the generated members, and the names the generated code refers to.</summary>
    private static readonly HashSet<string> Generated =
    [
        "gate", "linear", "x", "grad", "dGate", "dLinear", "dX", "input", "weights", "bias", "clampValue", "fp8InputStore", "layout", "engine", "value",
        // Type and member names the generated files use unqualified (aliases, the Maths struct's members, the class's).
        "OpMath", "CompositeMath", "Tensor", "GateLayout", "Engine", "Maths", "Function", "CudaSource", "Name", "Cuda", "KernelPrefix",
        "ScalarValues", "Forward", "ValueAndGradients", "ForwardF64", "ValueAndGradientsF64", "Backward", "BackwardF64", "Apply",
        // The CUDA maths functions' scalar struct parameter and the math library functions they call.
        "s", "expf", "logf", "sqrtf", "tanhf", "erff", "fabsf", "powf",
    ];

    /// <summary>C# keywords: a name written <c>@float</c> has the value text <c>float</c>.</summary>
    private static readonly HashSet<string> CSharpKeywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue", "decimal",
        "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally", "fixed", "float", "for",
        "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long", "namespace", "new", "null", "object",
        "operator", "out", "override", "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong",
        "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    ];

    /// <summary>C++20 keywords and alternative tokens that are ordinary identifiers in C#.</summary>
    private static readonly HashSet<string> CppKeywords =
    [
        "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "char8_t", "char16_t", "char32_t", "compl", "concept",
        "consteval", "constexpr", "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete", "dynamic_cast",
        "export", "friend", "inline", "mutable", "noexcept", "not", "not_eq", "nullptr", "or", "or_eq", "register", "reinterpret_cast",
        "requires", "signed", "static_assert", "static_cast", "template", "thread_local", "typedef", "typeid", "typename", "union",
        "unsigned", "wchar_t", "xor", "xor_eq",
    ];

    /// <summary>Whether a [Scalar] may have this name.</summary>
    public static bool IsUsableScalarName(string name) => IsPortableIdentifier(name) && !Generated.Contains(name);

    /// <summary>Whether a temporary may take the name of the user's local.</summary>
    public static bool IsUsableLocalName(string name) => IsUsableScalarName(name);

    /// <summary>
    /// An ASCII identifier that is a keyword in neither language and not reserved to the C++ implementation
    /// (<c>__x</c>, <c>_X</c>) or to the CUDA preamble (<c>mog_</c>). C# accepts Unicode letters; NVRTC may not.
    /// </summary>
    private static bool IsPortableIdentifier(string name)
        => name.Length > 0
           && (char.IsLetter(name[0]) || name[0] == '_') && name.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '_'))
           && !name.StartsWith("__", System.StringComparison.Ordinal)
           && !(name.Length > 1 && name[0] == '_' && char.IsUpper(name[1]))
           && !name.StartsWith("mog_", System.StringComparison.Ordinal)
           && !CSharpKeywords.Contains(name) && !CppKeywords.Contains(name);
}
