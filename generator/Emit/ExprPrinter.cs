using System;
using System.Globalization;
using System.Linq;
using MoeOpGen.Generator.Maths;

namespace MoeOpGen.Generator.Emit;

/// <summary>The languages the maths is printed in.</summary>
internal enum Target
{
    /// <summary>C# in <c>float</c>: the scalar backward and the fused CPU kernel.</summary>
    CSharpFloat,
    /// <summary>C# in <c>double</c>: the fp64 twins (finite-difference oracle, fp64 tensors).</summary>
    CSharpDouble,
    /// <summary>CUDA C++ in <c>float</c>.</summary>
    Cuda,
    /// <summary>TorchSharp tensor operations: the composite engine.</summary>
    Tensor,
    /// <summary>
    /// C# on eight fp32 lanes (<c>Vector256&lt;float&gt;</c> operators and <c>VectorMath</c>): the fused CPU kernel's
    /// vector loop. Same operations in the same order as <see cref="CSharpFloat"/>; scalar operands are broadcast.
    /// </summary>
    CSharpVector,
}

/// <summary>
/// Prints an expression in a target language with the fewest parentheses that keep the IR's exact evaluation
/// order (a right operand of equal precedence is always parenthesised: floating-point addition is not associative).
/// Literals are printed in invariant culture with round-trip precision.
/// </summary>
/// <param name="target">The language.</param>
/// <param name="perElement">
/// Whether a subexpression varies per element (depends on an input or the gradient): in tensor and vector code it
/// is then a tensor or a vector, and the rest (literals, [Scalar]s) stays a plain float.
/// </param>
internal sealed class ExprPrinter(Target target, Func<Expr, bool>? perElement = null)
{
    private readonly Func<Expr, bool> _isTensor = target == Target.Tensor && perElement is not null ? perElement : _ => false;
    private readonly Func<Expr, bool> _isVector = target == Target.CSharpVector && perElement is not null ? perElement : _ => false;

    /// <summary>Prints the scalar (non-tensor) parts of tensor code: they are ordinary float C#.</summary>
    private ExprPrinter? _scalarPrinter;

    public string Print(Expr e) => Print(e, 0);

    private string Print(Expr e, int parentPrecedence)
    {
        // In tensor code a subexpression that reads no tensor is float C# (a float temp, a Broadcast value, a scalar
        // argument of CompositeMath), so it is printed exactly as the float engine prints it.
        if (target == Target.Tensor && e is not Const && !_isTensor(e))
            return (_scalarPrinter ??= new ExprPrinter(Target.CSharpFloat)).Print(e, parentPrecedence);
        var (text, precedence) = Format(e);
        return precedence < parentPrecedence ? "(" + text + ")" : text;
    }

    private (string Text, int Precedence) Format(Expr e) => e switch
    {
        Const c => (target == Target.Tensor ? FloatLiteral(c.Value) : Literal(c.Value), c.Value < 0 ? 3 : 4),
        Var v => (v.Name, 4),
        Neg n => ("-" + Print(n.Operand, 4), 3),
        Binary b => FormatBinary(b),
        Pow p => (FormatPow(p), 4),
        Call c => (FormatCall(c), 4),
        Cond c => FormatCond(c),
        _ => throw new InvalidOperationException("Unknown node " + e.GetType().Name),
    };

    private (string, int) FormatBinary(Binary b)
    {
        var (op, precedence) = b.Op switch
        {
            BinaryOp.Add => ("+", 1),
            BinaryOp.Sub => ("-", 1),
            BinaryOp.Mul => ("*", 2),
            _ => ("/", 2),
        };
        // CUDA divides by storage precision (the preamble's mog_div: IEEE for fp32 storage, div.full for 16-bit).
        if (target == Target.Cuda && b.Op == BinaryOp.Div)
            return ($"mog_div<mog_fast>({Print(b.Left)}, {Print(b.Right)})", 4);
        if (_isVector(b))
        {
            // Vector256<float> has float × vector, vector × float and vector / float operators; + and − need a broadcast.
            bool mixedOk = b.Op == BinaryOp.Mul || (b.Op == BinaryOp.Div && _isVector(b.Left));
            string left = mixedOk ? Print(b.Left, precedence) : Lanes(b.Left, precedence);
            string right = mixedOk ? Print(b.Right, precedence + 1) : Lanes(b.Right, precedence + 1);
            return (left + " " + op + " " + right, precedence);
        }
        return (Operand(b.Left, precedence) + " " + op + " " + Operand(b.Right, precedence + 1), precedence);

        // Only a constant operand of a tensor operator may stay a double (TorchSharp rounds it to the tensor's
        // precision, so fp64 tensors keep 2/√π exact); anywhere else a constant is a float.
        string Operand(Expr operand, int parentPrecedence)
            => target == Target.Tensor && operand is Const c && _isTensor(b) ? Parenthesize(Literal(c.Value), c.Value < 0 ? 3 : 4, parentPrecedence) : Print(operand, parentPrecedence);
    }

    private static string Parenthesize(string text, int precedence, int parentPrecedence) => precedence < parentPrecedence ? "(" + text + ")" : text;

    /// <summary>A vector operand: a per-element expression as is, anything else broadcast to every lane.</summary>
    private string Lanes(Expr e, int parentPrecedence = 0)
        => _isVector(e) ? Print(e, parentPrecedence) : $"Vector256.Create({Print(e)})";

    private string FormatPow(Pow p)
    {
        // Each operand is printed once: printing it twice doubles the work at every nesting level.
        string n = Literal(p.Exponent);
        if (target == Target.Tensor && _isTensor(p.Base)) return $"{Print(p.Base, 4)}.pow({n})";
        if (target == Target.CSharpVector && _isVector(p.Base)) return $"VectorMath.Pow({Print(p.Base)}, {n})";
        string x = Print(p.Base);
        return target == Target.Cuda ? $"powf({x}, {n})" : $"OpMath.Pow({x}, {n})";
    }

    private string FormatCall(Call c)
    {
        // Each operand is printed once: printing it twice doubles the work at every nesting level.
        if (target == Target.Tensor && _isTensor(c) && c.Function is not (Func.Min or Func.Max or Func.Clamp))
            return $"{Print(c.A, 4)}.{c.Function.ToString().ToLowerInvariant()}()";
        if (_isVector(c))
        {
            // Min, Max and Clamp may mix vectors and scalars: every argument becomes a vector.
            string args = string.Join(", ", new[] { c.A, c.B, c.C }.Where(arg => arg is not null).Select(arg => Lanes(arg!)));
            return $"VectorMath.{c.Function}({args})";
        }
        string a = Print(c.A), b = c.B is null ? "" : ", " + Print(c.B), cc = c.C is null ? "" : ", " + Print(c.C);
        if (target == Target.Cuda)
        {
            string name = c.Function switch
            {
                Func.Exp => "mog_exp<mog_fast>", Func.Log => "logf", Func.Sqrt => "sqrtf", Func.Tanh => "mog_tanh<mog_fast>", Func.Erf => "erff",
                Func.Sigmoid => "mog_sigmoid<mog_fast>", Func.Abs => "fabsf", Func.Min => "mog_min", Func.Max => "mog_max",
                _ => "mog_clamp",
            };
            return $"{name}({a}{b}{cc})";
        }
        if (target == Target.Tensor && _isTensor(c))
        {
            // Min, Max and Clamp may mix tensors and scalars: CompositeMath has the overloads, with OpMath's tie rules.
            return $"CompositeMath.{c.Function}({a}{b}{cc})";
        }
        return $"OpMath.{c.Function}({a}{b}{cc})";
    }

    private (string, int) FormatCond(Cond c)
    {
        string op = c.Compare switch
        {
            CompareOp.Less => "<", CompareOp.LessOrEqual => "<=", CompareOp.Greater => ">", _ => ">=",
        };
        if (target == Target.Tensor && _isTensor(c))
        {
            // A comparison of two scalars is a bool, not a mask: CompositeMath.Where(bool, …) takes one branch whole.
            string condition = _isTensor(c.Left) || _isTensor(c.Right)
                ? $"CompositeMath.{c.Compare}({Print(c.Left)}, {Print(c.Right)})"
                : $"{Print(c.Left, 1)} {op} {Print(c.Right, 1)}";
            return ($"CompositeMath.Where({condition}, {Print(c.WhenTrue)}, {Print(c.WhenFalse)})", 4);
        }
        if (_isVector(c))
        {
            // Both branches are evaluated and one is picked per lane: the same value as the scalar ?: (a NaN
            // comparison is false in both), and a branch's own infinities or NaNs are dropped where not picked.
            string compare = c.Compare switch
            {
                CompareOp.Less => "LessThan", CompareOp.LessOrEqual => "LessThanOrEqual", CompareOp.Greater => "GreaterThan", _ => "GreaterThanOrEqual",
            };
            return ($"Vector256.ConditionalSelect(Vector256.{compare}({Lanes(c.Left)}, {Lanes(c.Right)}), {Lanes(c.WhenTrue)}, {Lanes(c.WhenFalse)})", 4);
        }
        return ($"{Print(c.Left, 1)} {op} {Print(c.Right, 1)} ? {Print(c.WhenTrue, 1)} : {Print(c.WhenFalse, 1)}", 0);
    }

    /// <remarks>
    /// Tensor code multiplies fp64 tensors too, so a constant that float cannot hold (2/√π of erf's derivative)
    /// stays a double there; TorchSharp rounds it to the tensor's own precision.
    /// </remarks>
    public string Literal(double value)
        => target == Target.Cuda && (float.IsInfinity((float)value) || float.IsNaN((float)value)) ? CudaNonFinite((float)value)
           : target == Target.CSharpDouble || (target == Target.Tensor && (double)(float)value != value) ? DoubleLiteral(value) : FloatLiteral(value);

    /// <summary>±∞ and NaN (a folded constant such as Exp(1000), or float.NaN in the body) by their bits: NVRTC
    /// has no INFINITY or NAN without headers, and the preamble already relies on <c>__uint_as_float</c>.</summary>
    private static string CudaNonFinite(float value)
        => float.IsNaN(value) ? "__uint_as_float(0x7fc00000u)" : value > 0 ? "__uint_as_float(0x7f800000u)" : "__uint_as_float(0xff800000u)";

    public static string FloatLiteral(double value)
    {
        float f = (float)value;
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        if (float.IsNaN(f)) return "float.NaN";
        // "2.0f", not "2f": the same literal must be valid C# and C++ (where 2f is a user-defined literal).
        string text = f.ToString("R", CultureInfo.InvariantCulture);
        return (text.IndexOfAny(['.', 'E']) >= 0 ? text : text + ".0") + "f";
    }

    public static string DoubleLiteral(double value)
    {
        if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
        if (double.IsNaN(value)) return "double.NaN";
        string s = value.ToString("R", CultureInfo.InvariantCulture);
        return s.IndexOfAny(['.', 'E', 'N', 'I']) >= 0 ? s : s + ".0";
    }
}
