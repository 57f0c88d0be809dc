using System;

namespace MoeOpGen.Generator.Maths;

/// <summary>
/// Smart constructors: every node the parser and the differentiator build goes through these, so constants fold
/// and the identities that reverse mode produces in bulk (0 + x, 1 · x, −(−x), x · 0) vanish as they appear.
/// </summary>
/// <remarks>
/// Folding <c>0 · x</c> to 0 drops NaN/∞ propagation through a zero derivative contribution; that is the usual
/// convention of symbolic differentiation (PyTorch's derivative formulas make the same choice).
/// Operand order is otherwise kept as the user wrote it, so generated code reads like the source.
/// </remarks>
internal static class Simplify
{
    public static readonly Const Zero = new(0), One = new(1);

    public static bool IsConst(Expr e, double value) => e is Const c && c.Value.Equals(value);

    public static Expr Add(Expr a, Expr b)
    {
        if (a is Const ca && b is Const cb) return new Const(ca.Value + cb.Value);
        if (IsConst(a, 0)) return b;
        if (IsConst(b, 0)) return a;
        if (b is Neg nb) return Sub(a, nb.Operand);
        if (a is Neg na) return Sub(b, na.Operand);
        return new Binary(BinaryOp.Add, a, b);
    }

    public static Expr Sub(Expr a, Expr b)
    {
        if (a is Const ca && b is Const cb) return new Const(ca.Value - cb.Value);
        if (IsConst(b, 0)) return a;
        if (IsConst(a, 0)) return Negate(b);
        if (b is Neg nb) return Add(a, nb.Operand);
        return new Binary(BinaryOp.Sub, a, b);
    }

    public static Expr Mul(Expr a, Expr b)
    {
        if (a is Const ca && b is Const cb) return new Const(ca.Value * cb.Value);
        if (IsConst(a, 0) || IsConst(b, 0)) return Zero;
        if (IsConst(a, 1)) return b;
        if (IsConst(b, 1)) return a;
        if (IsConst(a, -1)) return Negate(b);
        if (IsConst(b, -1)) return Negate(a);
        if (a is Neg na && b is Neg nb2) return Mul(na.Operand, nb2.Operand);
        if (a is Neg na2) return Negate(Mul(na2.Operand, b));
        if (b is Neg nb) return Negate(Mul(a, nb.Operand));
        if (b is Const) return Mul(b, a);                                       // constants lead: 2 · x
        if (a is Const c1 && b is Binary { Op: BinaryOp.Mul, Left: Const c2 } inner)
            return Mul(new Const(c1.Value * c2.Value), inner.Right);            // 2 · (3 · x) → 6 · x
        return new Binary(BinaryOp.Mul, a, b);
    }

    public static Expr Div(Expr a, Expr b)
    {
        if (a is Const ca && b is Const cb && cb.Value != 0) return new Const(ca.Value / cb.Value);
        if (IsConst(b, 1)) return a;
        if (IsConst(a, 0)) return Zero;
        if (a is Neg na) return Negate(Div(na.Operand, b));
        if (b is Neg nb) return Negate(Div(a, nb.Operand));
        return new Binary(BinaryOp.Div, a, b);
    }

    public static Expr Negate(Expr a) => a switch
    {
        Const c => new Const(-c.Value),
        Neg n => n.Operand,
        Binary { Op: BinaryOp.Sub } s => Sub(s.Right, s.Left),
        _ => new Neg(a),
    };

    public static Expr Power(Expr x, double n)
    {
        if (x is Const c) return new Const(Math.Pow(c.Value, n));
        if (n == 0) return One;
        if (n == 1) return x;
        // Small integer powers become products: exact, cheaper than pow, and identical on every engine.
        if (n == 2) return Mul(x, x);
        if (n == 3) return Mul(Mul(x, x), x);
        return new Pow(x, n);
    }

    public static Expr Call(Func f, Expr a, Expr? b = null, Expr? c = null)
    {
        if (a is Const ca && (b is null || b is Const) && (c is null || c is Const) && Fold(f, ca.Value, (b as Const)?.Value, (c as Const)?.Value) is double v)
            return new Const(v);
        return new Call(f, a, b, c);
    }

    private static double? Fold(Func f, double a, double? b, double? c) => f switch
    {
        Func.Exp => Math.Exp(a),
        Func.Log => Math.Log(a),
        Func.Sqrt => Math.Sqrt(a),
        Func.Tanh => Math.Tanh(a),
        Func.Sigmoid => 1 / (1 + Math.Exp(-a)),
        Func.Abs => Math.Abs(a),
        Func.Min => b!.Value < a ? b.Value : a,
        Func.Max => b!.Value > a ? b.Value : a,
        Func.Clamp => a < b!.Value ? b.Value : a > c!.Value ? c.Value : a,
        _ => null,                                                              // Erf: left to the target's library
    };

    public static Expr Select(CompareOp op, Expr left, Expr right, Expr whenTrue, Expr whenFalse)
    {
        if (whenTrue.Equals(whenFalse)) return whenTrue;
        if (left is Const l && right is Const r) return Compare(op, l.Value, r.Value) ? whenTrue : whenFalse;
        return new Cond(op, left, right, whenTrue, whenFalse);
    }

    private static bool Compare(CompareOp op, double l, double r) => op switch
    {
        CompareOp.Less => l < r,
        CompareOp.LessOrEqual => l <= r,
        CompareOp.Greater => l > r,
        _ => l >= r,
    };
}
