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
        var tensorTemps = new HashSet<string>();
        bool IsTensor(Expr e) => Differentiator.TopologicalOrder(e).Any(n => n is Var v && (v.Kind is VarKind.Input or VarKind.Gradient || (v.Kind == VarKind.Temp && tensorTemps.Contains(v.Name))));
        var printer = new ExprPrinter(target, IsTensor);

        foreach (var temp in program.Temps)
        {
            bool tensor = target == Target.Tensor && IsTensor(temp.Value);
            if (tensor) tensorTemps.Add(temp.Name);
            w.Line($"{TypeOf(target, tensor)} {temp.Name} = {printer.Print(temp.Value)};");
        }
        foreach (var output in program.Outputs)
        {
            string value = printer.Print(output.Value);
            // A composite output must be a tensor even where the maths is constant (e.g. a zero derivative).
            if (target == Target.Tensor && !IsTensor(output.Value)) value = $"CompositeMath.Broadcast({value}, {broadcastLike})";
            w.Line($"{declareOutput(output.Name)}{output.Name} = {value};");
        }
    }

    public static string TypeOf(Target target, bool tensor = false) => target switch
    {
        Target.CSharpDouble => "double",
        Target.Cuda => "const float",
        Target.Tensor => tensor ? "Tensor" : "float",
        _ => "float",
    };
}
