using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Generator.Maths;

namespace MoeOpGen.Generator.Emit;

/// <summary>Prints a <see cref="StraightLineProgram"/> as the statements of a method body in one target language.</summary>
internal static class ProgramWriter
{
    /// <summary>
    /// Writes the temporaries as declarations and each output as <c>{declare}name = value;</c>.
    /// <paramref name="declareOutput"/> decides, per output name, the declaration prefix ("" for an out parameter).
    /// </summary>
    public static void Write(CodeWriter w, StraightLineProgram program, Target target, System.Func<string, string> declareOutput, string broadcastLike = "")
    {
        // In tensor and vector code, what depends on an input or the gradient is a tensor or a vector; the rest
        // (literals and [Scalar]s only) stays a float.
        var perElementTemps = new HashSet<string>();
        bool PerElement(Expr e) => Differentiator.TopologicalOrder(e).Any(n => n is Var v && (v.Kind is VarKind.Input or VarKind.Gradient || (v.Kind == VarKind.Temp && perElementTemps.Contains(v.Name))));
        bool lanes = target is Target.Tensor or Target.CSharpVector;
        var printer = new ExprPrinter(target, PerElement);

        foreach (var temp in program.Temps)
        {
            bool perElement = lanes && PerElement(temp.Value);
            if (perElement) perElementTemps.Add(temp.Name);
            w.Line($"{TypeOf(target, perElement)} {temp.Name} = {printer.Print(temp.Value)};");
        }
        foreach (var output in program.Outputs)
        {
            string value = printer.Print(output.Value);
            // A composite or vector output must be a tensor or vector even where the maths is constant (e.g. a zero derivative).
            if (target == Target.Tensor && !PerElement(output.Value)) value = $"CompositeMath.Broadcast({value}, {broadcastLike})";
            if (target == Target.CSharpVector && !PerElement(output.Value)) value = $"Vector256.Create({value})";
            w.Line($"{declareOutput(output.Name)}{output.Name} = {value};");
        }
    }

    public static string TypeOf(Target target, bool perElement = false) => target switch
    {
        Target.CSharpDouble => "double",
        Target.Cuda => "const float",
        Target.Tensor => perElement ? "Tensor" : "float",
        Target.CSharpVector => perElement ? "Vector256<float>" : "float",
        _ => "float",
    };
}
