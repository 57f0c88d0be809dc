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

        EmitMathsStruct(w, m, inF, inD);
        w.Close();
        return w.ToString();
    }

    private static void EmitMathsStruct(CodeWriter w, OperatorModel m, string inF, string inD)
    {
        bool gated = m.Kind == OperatorKind.Gated;
        string iface = gated ? "IGatedMaths" : "IUnaryMaths";
        string inT = string.Join(", ", m.Inputs.Select(i => "Tensor " + i));
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

        const string inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";
        string outsF = string.Join(", ", m.GradientNames.Select(n => "out float " + n));
        string outsD = string.Join(", ", m.GradientNames.Select(n => "out double " + n));
        string outsT = string.Join(", ", m.GradientNames.Select(n => "out Tensor " + n));

        w.Line("/// <inheritdoc/>").Line(inline);
        w.Open($"public float Forward({inF})");
        ProgramWriter.Write(w, m.Forward, Target.CSharpFloat, _ => "float ");
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>").Line(inline);
        w.Open($"public float ValueAndGradients({inF}, float grad, {outsF})");
        ProgramWriter.Write(w, m.ValueAndGradients, Target.CSharpFloat, n => n == "value" ? "float " : "");
        w.Line("return value;").Close().Line();

        string inV = string.Join(", ", m.Inputs.Select(i => "Vector256<float> " + i));
        string outsV = string.Join(", ", m.GradientNames.Select(n => "out Vector256<float> " + n));
        w.Line("/// <inheritdoc/>").Line(inline);
        w.Open($"public Vector256<float> Forward({inV})");
        ProgramWriter.Write(w, m.Forward, Target.CSharpVector, _ => "Vector256<float> ");
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>").Line(inline);
        w.Open($"public Vector256<float> ValueAndGradients({inV}, Vector256<float> grad, {outsV})");
        ProgramWriter.Write(w, m.ValueAndGradients, Target.CSharpVector, n => n == "value" ? "Vector256<float> " : "");
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>");
        w.Open($"public double ForwardF64({inD})");
        ProgramWriter.Write(w, m.Forward, Target.CSharpDouble, _ => "double ");
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>");
        w.Open($"public double ValueAndGradientsF64({inD}, double grad, {outsD})");
        ProgramWriter.Write(w, m.ValueAndGradients, Target.CSharpDouble, n => n == "value" ? "double " : "");
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>");
        w.Open($"public Tensor Forward({inT})");
        ProgramWriter.Write(w, m.Forward, Target.Tensor, _ => "Tensor ", m.Inputs[0]);
        w.Line("return value;").Close().Line();

        w.Line("/// <inheritdoc/>");
        w.Open($"public Tensor ValueAndGradients({inT}, Tensor grad, {outsT})");
        ProgramWriter.Write(w, m.ValueAndGradients, Target.Tensor, n => n == "value" ? "Tensor " : "", m.Inputs[0]);
        w.Line("return value;").Close();
        w.Close();
    }

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
