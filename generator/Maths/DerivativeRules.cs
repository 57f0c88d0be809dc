using System.Collections.Generic;
using static MoeOpGen.Generator.Maths.Simplify;

namespace MoeOpGen.Generator.Maths;

/// <summary>
/// The derivative table: one rule per node kind and function, each written in terms of the node's inputs, the
/// node's own result (<c>y</c>, which common-subexpression elimination shares with the forward value) and the
/// incoming gradient <c>g</c>, the way PyTorch's <c>derivatives.yaml</c> states its formulas.
/// </summary>
internal static class DerivativeRules
{
    /// <summary>The contributions <c>(input, g · ∂node/∂input)</c> of one node to its inputs' gradients.</summary>
    public static IEnumerable<(Expr Input, Expr Gradient)> Partials(Expr node, Expr g)
    {
        switch (node)
        {
            case Binary { Op: BinaryOp.Add } b:                                  // a + b
                yield return (b.Left, g);
                yield return (b.Right, g);
                break;
            case Binary { Op: BinaryOp.Sub } b:                                  // a − b
                yield return (b.Left, g);
                yield return (b.Right, Negate(g));
                break;
            case Binary { Op: BinaryOp.Mul } b:                                  // a · b
                yield return (b.Left, Mul(g, b.Right));
                yield return (b.Right, Mul(g, b.Left));
                break;
            case Binary { Op: BinaryOp.Div } b:                                  // a / b: ∂b = −g · y / b
                yield return (b.Left, Div(g, b.Right));
                yield return (b.Right, Negate(Div(Mul(g, node), b.Right)));
                break;
            case Neg n:
                yield return (n.Operand, Negate(g));
                break;
            case Pow p:                                                          // xⁿ: n · xⁿ⁻¹
                yield return (p.Base, Mul(g, Mul(new Const(p.Exponent), Power(p.Base, p.Exponent - 1))));
                break;
            case Cond c:                                                         // the branch taken gets g
                yield return (c.WhenTrue, Select(c.Compare, c.Left, c.Right, g, Zero));
                yield return (c.WhenFalse, Select(c.Compare, c.Left, c.Right, Zero, g));
                break;
            case Call c:
                foreach (var partial in CallPartials(c, g)) yield return partial;
                break;
        }
    }

    private static IEnumerable<(Expr, Expr)> CallPartials(Call c, Expr g)
    {
        Expr y = c, a = c.A;
        switch (c.Function)
        {
            case Func.Exp: yield return (a, Mul(g, y)); break;                                        // eˣ
            case Func.Log: yield return (a, Div(g, a)); break;                                        // 1/x
            case Func.Sqrt: yield return (a, Div(Mul(new Const(0.5), g), y)); break;                  // 1/(2√x)
            case Func.Tanh: yield return (a, Mul(g, Sub(One, Mul(y, y)))); break;                     // 1 − y²
            case Func.Sigmoid: yield return (a, Mul(g, Mul(y, Sub(One, y)))); break;                  // y(1 − y)
            case Func.Erf:                                                                            // 2/√π e^(−x²)
                yield return (a, Mul(g, Mul(new Const(1.1283791670955126), Call(Func.Exp, Negate(Mul(a, a))))));
                break;
            case Func.Abs: yield return (a, Select(CompareOp.GreaterOrEqual, a, Zero, g, Negate(g))); break; // sign(x), +1 at 0
            case Func.Min:                                                                            // to a where a ≤ b
                yield return (a, Select(CompareOp.LessOrEqual, a, c.B!, g, Zero));
                yield return (c.B!, Select(CompareOp.LessOrEqual, a, c.B!, Zero, g));
                break;
            case Func.Max:                                                                            // to a where a ≥ b
                yield return (a, Select(CompareOp.GreaterOrEqual, a, c.B!, g, Zero));
                yield return (c.B!, Select(CompareOp.GreaterOrEqual, a, c.B!, Zero, g));
                break;
            case Func.Clamp:                                                                          // passes on [lo, hi]
                // The value is x < lo ? lo : x > hi ? hi : x, so hi gets g only where x ≥ lo (lo wins when lo > hi).
                yield return (a, Select(CompareOp.Less, a, c.B!, Zero, Select(CompareOp.Greater, a, c.C!, Zero, g)));
                yield return (c.B!, Select(CompareOp.Less, a, c.B!, g, Zero));
                yield return (c.C!, Select(CompareOp.Less, a, c.B!, Zero, Select(CompareOp.Greater, a, c.C!, g, Zero)));
                break;
        }
    }
}
