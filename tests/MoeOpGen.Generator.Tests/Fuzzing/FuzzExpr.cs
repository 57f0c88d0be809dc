using System;
using System.Collections.Generic;
using System.Text;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// The fuzzer's own expression tree for a random <c>Forward</c> body: it prints itself as C# source (the text the
/// generator reads) and evaluates itself in double precision with OpMath's semantics, so it is an oracle for the
/// generated <c>ForwardF64</c> that shares no code with the generator. While evaluating it records every branch
/// decision (Abs, Min, Max, Clamp, ?:) so the finite-difference check can skip points whose stencil crosses a kink.
/// </summary>
internal abstract class FuzzExpr
{
    public abstract void Print(SourceWriter w);

    /// <summary>The value in double; a C# constant subexpression has the float value C# folds it to.</summary>
    public double Evaluate(FuzzPoint point) => IsCSharpConstant ? FoldFloat() : EvaluateDouble(point);

    protected abstract double EvaluateDouble(FuzzPoint point);

    /// <summary>
    /// Whether C# folds this to a constant at compile time: literals combined with + - * /, unary minus, casts and
    /// ?: (not method calls). C# folds float constants in float, and the generator takes the folded value.
    /// </summary>
    public virtual bool IsCSharpConstant => false;

    /// <summary>The C# float constant value (only for <see cref="IsCSharpConstant"/>).</summary>
    public virtual float FoldFloat() => throw new InvalidOperationException("Not a C# constant: " + this);

    /// <summary>True when the expression reads an input (so it is not folded to a constant by C#).</summary>
    public abstract bool ReadsInput { get; }

    public override string ToString()
    {
        var w = new SourceWriter();
        Print(w);
        return w.ToString();
    }
}

/// <summary>The values of the inputs and scalars at one point, and the branch decisions taken while evaluating.</summary>
internal sealed class FuzzPoint(IReadOnlyDictionary<string, double> values)
{
    public List<bool> Branches { get; } = [];

    public double Value(string name) => values[name];

    public bool Branch(bool taken)
    {
        Branches.Add(taken);
        return taken;
    }
}

/// <summary>A StringBuilder that can remember where a marked piece of text (the mutation of an invalid body) went.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _text = new();

    public int Length => _text.Length;

    public (int Start, int End)? Marked { get; private set; }

    public SourceWriter Write(string text)
    {
        _text.Append(text);
        return this;
    }

    public void Mark(Action write)
    {
        int start = _text.Length;
        write();
        Marked = (start, _text.Length);
    }

    public override string ToString() => _text.ToString();
}

/// <summary>An input, a [Scalar] or a local (whose value is its initializer's).</summary>
internal sealed class RefExpr(string text, Func<FuzzPoint, double> value, bool readsInput) : FuzzExpr
{
    public override void Print(SourceWriter w) => w.Write(text);
    protected override double EvaluateDouble(FuzzPoint point) => value(point);
    public override bool ReadsInput => readsInput;
}

/// <summary>A numeric constant written in one of C#'s spellings (<c>0.5f</c>, <c>(float)0.5</c>, <c>MathF.PI</c>, a const field).</summary>
internal sealed class LiteralExpr(string text, double value) : FuzzExpr
{
    public double Value => value;
    public override void Print(SourceWriter w) => w.Write(text);
    protected override double EvaluateDouble(FuzzPoint point) => value;
    public override bool IsCSharpConstant => true;
    public override float FoldFloat() => (float)value;
    public override bool ReadsInput => false;
}

/// <summary><c>l op r</c>, fully parenthesised (printing decides nothing about precedence).</summary>
internal sealed class BinaryExpr(char op, FuzzExpr left, FuzzExpr right) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write("(");
        left.Print(w);
        w.Write($" {op} ");
        right.Print(w);
        w.Write(")");
    }

    protected override double EvaluateDouble(FuzzPoint point)
    {
        double l = left.Evaluate(point), r = right.Evaluate(point);
        return op switch { '+' => l + r, '-' => l - r, '*' => l * r, '/' => l / r, _ => throw new InvalidOperationException(op.ToString()) };
    }

    public override bool IsCSharpConstant => left.IsCSharpConstant && right.IsCSharpConstant;

    public override float FoldFloat()
    {
        float l = left.FoldFloat(), r = right.FoldFloat();
        return op switch { '+' => l + r, '-' => l - r, '*' => l * r, '/' => l / r, _ => throw new InvalidOperationException(op.ToString()) };
    }

    public override bool ReadsInput => left.ReadsInput || right.ReadsInput;
}

/// <summary>Unary minus or plus: <c>-(e)</c>.</summary>
internal sealed class UnaryExpr(char op, FuzzExpr operand) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write(op + "(");
        operand.Print(w);
        w.Write(")");
    }

    protected override double EvaluateDouble(FuzzPoint point) => op == '-' ? -operand.Evaluate(point) : operand.Evaluate(point);
    public override bool IsCSharpConstant => operand.IsCSharpConstant;
    public override float FoldFloat() => op == '-' ? -operand.FoldFloat() : operand.FoldFloat();
    public override bool ReadsInput => operand.ReadsInput;
}

/// <summary>Text around an expression that does not change its value: parentheses, <c>(float)</c> casts.</summary>
internal sealed class WrapExpr(string before, FuzzExpr inner, string after) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write(before);
        inner.Print(w);
        w.Write(after);
    }

    protected override double EvaluateDouble(FuzzPoint point) => inner.Evaluate(point);
    public override bool IsCSharpConstant => inner.IsCSharpConstant;
    public override float FoldFloat() => inner.FoldFloat();      // (float)(double)(c) round-trips a float exactly
    public override bool ReadsInput => inner.ReadsInput;
}

/// <summary>A vocabulary function, spelled as OpMath, MathF, Math (with a cast) or through <c>using static</c>.</summary>
internal sealed class CallExpr(string function, string spelling, string suffix, params FuzzExpr[] arguments) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write(spelling + "(");
        for (int i = 0; i < arguments.Length; i++)
        {
            if (i > 0) w.Write(", ");
            arguments[i].Print(w);
        }
        w.Write(")" + suffix);
    }

    protected override double EvaluateDouble(FuzzPoint point)
    {
        var a = new double[arguments.Length];
        for (int i = 0; i < a.Length; i++) a[i] = arguments[i].Evaluate(point);
        // The branch recorded is the one the generated derivative takes (docs/dsl.md's rules).
        switch (function)
        {
            case "Exp": return OpMath.Exp(a[0]);
            case "Log": return OpMath.Log(a[0]);
            case "Sqrt": return OpMath.Sqrt(a[0]);
            case "Tanh": return OpMath.Tanh(a[0]);
            case "Erf": return OpMath.Erf(a[0]);
            case "Sigmoid": return OpMath.Sigmoid(a[0]);
            case "Abs": point.Branch(a[0] >= 0); return OpMath.Abs(a[0]);
            case "Min": point.Branch(a[0] <= a[1]); return OpMath.Min(a[0], a[1]);
            case "Max": point.Branch(a[0] >= a[1]); return OpMath.Max(a[0], a[1]);
            case "Clamp": point.Branch(a[0] < a[1]); point.Branch(a[0] > a[2]); return OpMath.Clamp(a[0], a[1], a[2]);
            default: throw new InvalidOperationException(function);
        }
    }

    public override bool ReadsInput => Array.Exists(arguments, a => a.ReadsInput);
}

/// <summary><c>Pow(base, n)</c> with a constant exponent written as text.</summary>
internal sealed class PowExpr(string spelling, string suffix, FuzzExpr @base, string exponentText, double exponent) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write(spelling + "(");
        @base.Print(w);
        w.Write(", " + exponentText + ")" + suffix);
    }

    protected override double EvaluateDouble(FuzzPoint point) => Math.Pow(@base.Evaluate(point), exponent);
    public override bool ReadsInput => @base.ReadsInput;
}

/// <summary><c>(l cmp r ? t : f)</c>. Both branches are evaluated so the branch record has a fixed layout.</summary>
internal sealed class ConditionalExpr(string comparison, FuzzExpr left, FuzzExpr right, FuzzExpr whenTrue, FuzzExpr whenFalse) : FuzzExpr
{
    public override void Print(SourceWriter w)
    {
        w.Write("(");
        left.Print(w);
        w.Write($" {comparison} ");
        right.Print(w);
        w.Write(" ? ");
        whenTrue.Print(w);
        w.Write(" : ");
        whenFalse.Print(w);
        w.Write(")");
    }

    protected override double EvaluateDouble(FuzzPoint point)
    {
        double l = left.Evaluate(point), r = right.Evaluate(point);
        double t = whenTrue.Evaluate(point), f = whenFalse.Evaluate(point);
        return point.Branch(Compare(l, r)) ? t : f;
    }

    public override bool IsCSharpConstant => left.IsCSharpConstant && right.IsCSharpConstant && whenTrue.IsCSharpConstant && whenFalse.IsCSharpConstant;

    public override float FoldFloat() => Compare(left.FoldFloat(), right.FoldFloat()) ? whenTrue.FoldFloat() : whenFalse.FoldFloat();

    private bool Compare(double l, double r)
        => comparison switch { "<" => l < r, "<=" => l <= r, ">" => l > r, ">=" => l >= r, _ => throw new InvalidOperationException(comparison) };

    public override bool ReadsInput => left.ReadsInput || right.ReadsInput || whenTrue.ReadsInput || whenFalse.ReadsInput;
}

/// <summary>Syntax the DSL must reject, standing in for a subexpression; printed inside the marked span.</summary>
internal sealed class InvalidExpr(string text) : FuzzExpr
{
    public override void Print(SourceWriter w) => w.Mark(() => w.Write(text));
    protected override double EvaluateDouble(FuzzPoint point) => throw new InvalidOperationException("An invalid body is never evaluated.");
    public override bool ReadsInput => true;
}
