using System;

namespace MoeOpGen.Generator.Maths;

/// <summary>
/// The expression IR: immutable nodes with structural equality and no Roslyn types, so an operator's maths can be
/// compared, cached, differentiated and printed deterministically into C#, CUDA and TorchSharp code.
/// </summary>
/// <remarks>
/// Plain classes rather than records so the structural hash can be cached once per node: differentiation and
/// common-subexpression elimination hash the same subtrees many times.
/// </remarks>
internal abstract class Expr : IEquatable<Expr>
{
    private int _hash;

    public sealed override int GetHashCode()
    {
        if (_hash == 0) _hash = ComputeHash() | 1;
        return _hash;
    }

    public sealed override bool Equals(object? obj) => Equals(obj as Expr);

    public bool Equals(Expr? other)
        => other is not null && (ReferenceEquals(this, other)
           || (GetType() == other.GetType() && GetHashCode() == other.GetHashCode() && SameFields(other)));

    /// <summary>Nodes on the longest path to a leaf, fixed when the node is built (children first, so no recursion):
    /// the parser bounds it, which bounds the recursion of everything downstream.</summary>
    public abstract int Depth { get; }

    /// <summary>Field-wise equality with a node of the same type.</summary>
    protected abstract bool SameFields(Expr other);

    protected abstract int ComputeHash();

    protected static int Combine(int a, int b, int c = 0, int d = 0)
        => unchecked((((a * 397) ^ b) * 397 ^ c) * 397 ^ d);

    public static Expr operator +(Expr a, Expr b) => new Binary(BinaryOp.Add, a, b);
    public static Expr operator -(Expr a, Expr b) => new Binary(BinaryOp.Sub, a, b);
    public static Expr operator *(Expr a, Expr b) => new Binary(BinaryOp.Mul, a, b);
    public static Expr operator /(Expr a, Expr b) => new Binary(BinaryOp.Div, a, b);
    public static Expr operator -(Expr a) => new Neg(a);
    public static implicit operator Expr(double value) => new Const(value);
}

/// <summary>A literal. Stored as double; printed as a float or double literal in invariant culture.</summary>
internal sealed class Const(double value) : Expr
{
    public double Value { get; } = value;
    public override int Depth => 1;
    protected override bool SameFields(Expr other) => ((Const)other).Value.Equals(Value);
    protected override int ComputeHash() => Value.GetHashCode();
}

/// <summary>What a variable stands for: a differentiated input, a [Scalar] argument, the incoming gradient or a temporary of a straight-line program.</summary>
internal enum VarKind { Input, Scalar, Gradient, Temp }

/// <summary>A named value: an input (gate, linear or x), a [Scalar] argument or the incoming gradient.</summary>
internal sealed class Var(string name, VarKind kind) : Expr
{
    public string Name { get; } = name;
    public VarKind Kind { get; } = kind;
    public override int Depth => 1;
    protected override bool SameFields(Expr other) => ((Var)other).Name == Name && ((Var)other).Kind == Kind;
    protected override int ComputeHash() => Combine(StableHash(Name), (int)Kind);

    /// <summary>string.GetHashCode is randomised per process; a stable hash keeps the output order deterministic.</summary>
    internal static int StableHash(string s)
    {
        unchecked
        {
            int h = (int)2166136261;
            foreach (char c in s) h = (h ^ c) * 16777619;
            return h;
        }
    }
}

internal enum BinaryOp { Add, Sub, Mul, Div }

internal sealed class Binary(BinaryOp op, Expr left, Expr right) : Expr
{
    public BinaryOp Op { get; } = op;
    public Expr Left { get; } = left;
    public Expr Right { get; } = right;
    public override int Depth { get; } = 1 + Math.Max(left.Depth, right.Depth);
    protected override bool SameFields(Expr other)
        => other is Binary b && b.Op == Op && b.Left.Equals(Left) && b.Right.Equals(Right);
    protected override int ComputeHash() => Combine((int)Op + 1, Left.GetHashCode(), Right.GetHashCode());
}

internal sealed class Neg(Expr operand) : Expr
{
    public Expr Operand { get; } = operand;
    public override int Depth { get; } = 1 + operand.Depth;
    protected override bool SameFields(Expr other) => ((Neg)other).Operand.Equals(Operand);
    protected override int ComputeHash() => Combine(17, Operand.GetHashCode());
}

/// <summary>The functions of <c>OpMath</c> (and their <c>MathF</c>/<c>Math</c> twins) the IR knows.</summary>
internal enum Func { Exp, Log, Sqrt, Tanh, Erf, Sigmoid, Abs, Min, Max, Clamp }

/// <summary>A call with one to three arguments (<see cref="Func.Clamp"/> takes three).</summary>
internal sealed class Call(Func function, Expr a, Expr? b = null, Expr? c = null) : Expr
{
    public Func Function { get; } = function;
    public Expr A { get; } = a;
    public Expr? B { get; } = b;
    public Expr? C { get; } = c;
    public override int Depth { get; } = 1 + Math.Max(a.Depth, Math.Max(b?.Depth ?? 0, c?.Depth ?? 0));
    protected override bool SameFields(Expr other)
        => other is Call o && o.Function == Function && o.A.Equals(A) && Equals(o.B, B) && Equals(o.C, C);
    protected override int ComputeHash()
        => Combine((int)Function + 100, A.GetHashCode(), B?.GetHashCode() ?? 0, C?.GetHashCode() ?? 0);
}

/// <summary><c>Pow(x, n)</c> with a constant exponent n.</summary>
internal sealed class Pow(Expr @base, double exponent) : Expr
{
    public Expr Base { get; } = @base;
    public double Exponent { get; } = exponent;
    public override int Depth { get; } = 1 + @base.Depth;
    protected override bool SameFields(Expr other) => other is Pow p && p.Exponent.Equals(Exponent) && p.Base.Equals(Base);
    protected override int ComputeHash() => Combine(41, Base.GetHashCode(), Exponent.GetHashCode());
}

internal enum CompareOp { Less, LessOrEqual, Greater, GreaterOrEqual }

/// <summary><c>left ⋚ right ? whenTrue : whenFalse</c>. The comparison itself is not differentiated.</summary>
internal sealed class Cond(CompareOp compare, Expr left, Expr right, Expr whenTrue, Expr whenFalse) : Expr
{
    public CompareOp Compare { get; } = compare;
    public Expr Left { get; } = left;
    public Expr Right { get; } = right;
    public Expr WhenTrue { get; } = whenTrue;
    public Expr WhenFalse { get; } = whenFalse;
    public override int Depth { get; } = 1 + Math.Max(Math.Max(left.Depth, right.Depth), Math.Max(whenTrue.Depth, whenFalse.Depth));
    protected override bool SameFields(Expr other)
        => other is Cond c && c.Compare == Compare && c.Left.Equals(Left) && c.Right.Equals(Right)
           && c.WhenTrue.Equals(WhenTrue) && c.WhenFalse.Equals(WhenFalse);
    protected override int ComputeHash()
        => Combine((int)Compare + 50, Combine(Left.GetHashCode(), Right.GetHashCode()), WhenTrue.GetHashCode(), WhenFalse.GetHashCode());
}
