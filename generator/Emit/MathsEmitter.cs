using System.Linq;
using MoeOpGen.Generator.Model;

namespace MoeOpGen.Generator.Emit;

/// <summary>
/// Emits <c>{Operator}.Maths.g.cs</c>: the scalar backward of the Contracts, the fp64 twins, and the
/// <c>Maths</c> struct (scalars bound) that the fused CPU kernel, the composite and the CUDA launcher are
/// specialised on.
/// </summary>
internal static class MathsEmitter
{
    public static string Emit(OperatorModel m)
    {
        var w = SourceHeader.Begin(m.Namespace,
            "using global::System.Runtime.Intrinsics;\nusing OpMath = global::MoeOpGen.OpMath;\nusing VectorMath = global::MoeOpGen.Engines.VectorMath;\nusing CompositeMath = global::MoeOpGen.Engines.CompositeMath;\nusing Tensor = global::TorchSharp.torch.Tensor;");
        string inputs = string.Join(", ", m.Inputs);
        string fx = $"f({inputs})";
        // Min(a, a) and the like compare a value with itself, which C# warns about (CS1718) and a
        // TreatWarningsAsErrors build would reject; the comparison is meant (it is false for NaN).
        if (ComparesAValueWithItself(m)) w.Line("#pragma warning disable CS1718 // comparison made to the same variable").Line();

        w.Line("/// <remarks>");
        w.Line($"/// <para>MoeOpGen maths, stated by <c>Forward</c>: <c>{fx} = {Xml(m.Formula)}</c>.</para>");
        w.Line("/// <para>The generated members below evaluate the same straight-line program: the temporaries are the");
        w.Line("/// common subexpressions of the value and its reverse-mode derivatives.</para>");
        w.Line("/// </remarks>");
        w.Open($"partial class {m.ClassName}");

        string scalarsF = Params(m, "float", defaults: false);
        string gradOuts = string.Join(", ", m.GradientNames.Select(n => "out float " + n));
        string gradOutsD = string.Join(", ", m.GradientNames.Select(n => "out double " + n));
        string inF = string.Join(", ", m.Inputs.Select(i => "float " + i));
        string inD = string.Join(", ", m.Inputs.Select(i => "double " + i));

        // Scalar backward (Contracts signature).
        w.Line($"/// <summary>The backward of <c>Forward</c>: {string.Join(", ", m.Inputs.Zip(m.GradientNames, (i, d) => $"<c>{d} = grad · ∂f/∂{i}</c>"))}.</summary>");
        w.Line(SourceHeader.GeneratedCode);
        w.Open($"public static void Backward({inF}, float grad{Comma(scalarsF)}, {gradOuts})");
        ProgramWriter.Write(w, m.Backward, Target.CSharpFloat, _ => "");
        w.Close().Line();

        // Double twins.
        w.Line("/// <summary><c>Forward</c> in double precision: the fp64 oracle of the finite-difference tests and the maths of fp64 tensors.</summary>");
        w.Line(SourceHeader.GeneratedCode);
        w.Open($"public static double ForwardF64({inD}{Comma(Params(m, "double", defaults: true))})");
        ProgramWriter.Write(w, m.Forward, Target.CSharpDouble, _ => "double ");
        w.Line("return value;");
        w.Close().Line();

        w.Line("/// <summary>The scalar backward in double precision.</summary>");
        w.Line(SourceHeader.GeneratedCode);
        w.Open($"public static void BackwardF64({inD}, double grad{Comma(Params(m, "double", defaults: false))}, {gradOutsD})");
        ProgramWriter.Write(w, m.Backward, Target.CSharpDouble, _ => "");
        w.Close().Line();

        EmitMathsStruct(w, m);
        w.Close();
        return w.ToString();
    }

    private static void EmitMathsStruct(CodeWriter w, OperatorModel m)
    {
        bool gated = m.Kind == OperatorKind.Gated;
        string iface = gated ? "IGatedMaths" : "IUnaryMaths";
        string args = string.Join(", ", m.Scalars.Select(s => s.Name));

        w.Line($"/// <summary>The maths of <see cref=\"{m.ClassName}\"/> with its scalars bound: the value type every engine is specialised on.</summary>");
        w.Line(SourceHeader.GeneratedCode);
        w.Open($"public readonly struct Maths : global::MoeOpGen.Engines.{iface}");
        foreach (var s in m.Scalars) w.Line($"private readonly float {s.Name};");
        if (m.Scalars.Length > 0) w.Line();
        w.Line("/// <summary>Binds the scalars.</summary>");
        w.Open($"public Maths({Params(m, "float", defaults: false)})");
        foreach (var s in m.Scalars) w.Line($"this.{s.Name} = {s.Name};");
        w.Close().Line();

        w.Line("/// <inheritdoc/>");
        w.Line($"public string Name => \"{m.ClassName}\";").Line();
        w.Line("/// <inheritdoc/>");
        w.Line("public global::MoeOpGen.Cuda.CudaSource Cuda => CudaSource;").Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public string KernelPrefix => \"{m.KernelPrefix}\";").Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public float[] ScalarValues => new float[] {{ {args} }};").Line();

        // The same two programs, Forward and ValueAndGradients, printed for each type an engine computes in: float
        // and Vector256<float> (the fused CPU loops, inlined there), double (fp64 tensors) and Tensor (the composite).
        MemberPair("float", Target.CSharpFloat, "", inlined: true);
        w.Line();
        MemberPair("Vector256<float>", Target.CSharpVector, "", inlined: true);
        w.Line();
        MemberPair("double", Target.CSharpDouble, "F64", inlined: false);
        w.Line();
        MemberPair("Tensor", Target.Tensor, "", inlined: false, broadcastLike: m.Inputs[0]);
        w.Close();

        void MemberPair(string type, Target target, string nameSuffix, bool inlined, string broadcastLike = "")
        {
            string inputs = string.Join(", ", m.Inputs.Select(i => $"{type} {i}"));
            string outs = string.Join(", ", m.GradientNames.Select(n => $"out {type} {n}"));
            w.Line("/// <inheritdoc/>");
            if (inlined) w.Line(Inline);
            w.Open($"public {type} Forward{nameSuffix}({inputs})");
            ProgramWriter.Write(w, m.Forward, target, _ => type + " ", broadcastLike);
            w.Line("return value;").Close().Line();

            w.Line("/// <inheritdoc/>");
            if (inlined) w.Line(Inline);
            w.Open($"public {type} ValueAndGradients{nameSuffix}({inputs}, {type} grad, {outs})");
            ProgramWriter.Write(w, m.ValueAndGradients, target, n => n == "value" ? type + " " : "", broadcastLike);
            w.Line("return value;").Close();
        }
    }

    private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

    internal static string Params(OperatorModel m, string type, bool defaults)
        => string.Join(", ", m.Scalars.Select(s => $"{type} {s.Name}" + (defaults ? " = " + (type == "double" ? ExprPrinter.DoubleLiteral(s.DefaultValue) : ExprPrinter.FloatLiteral(s.DefaultValue)) : "")));

    internal static string Comma(string list) => list.Length == 0 ? "" : ", " + list;

    private static bool ComparesAValueWithItself(OperatorModel m)
        => new[] { m.Forward, m.Backward, m.ValueAndGradients }
            .SelectMany(p => p.Temps.Concat(p.Outputs))
            .SelectMany(a => Maths.Differentiator.TopologicalOrder(a.Value))
            .Any(e => e is Maths.Cond c && c.Left.Equals(c.Right));

    internal static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
