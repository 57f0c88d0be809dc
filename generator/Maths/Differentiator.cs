using System.Collections.Generic;
using System.Linq;

namespace MoeOpGen.Generator.Maths;

/// <summary>
/// Reverse-mode symbolic differentiation over the expression DAG: nodes are visited once each (structural
/// equality merges repeated subtrees), from the output back to the inputs, accumulating adjoints with
/// <see cref="DerivativeRules"/>.
/// </summary>
internal static class Differentiator
{
    /// <summary>∂output/∂input · <paramref name="gradient"/> for each input (0 where the output does not depend on it).</summary>
    public static IReadOnlyList<Expr> Gradients(Expr output, IReadOnlyList<Var> inputs, Expr gradient)
    {
        var order = TopologicalOrder(output);
        var dependsOnInput = new HashSet<Expr>();
        foreach (var node in order)                      // children come first, so one pass suffices
        {
            if ((node is Var v && inputs.Contains(v)) || Children(node).Any(dependsOnInput.Contains))
                dependsOnInput.Add(node);
        }

        var adjoint = new Dictionary<Expr, Expr> { [output] = gradient };
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (!adjoint.TryGetValue(node, out var g) || !dependsOnInput.Contains(node)) continue;
            foreach (var (input, contribution) in DerivativeRules.Partials(node, g))
            {
                if (!dependsOnInput.Contains(input)) continue;
                adjoint[input] = adjoint.TryGetValue(input, out var sum) ? Simplify.Add(sum, contribution) : contribution;
            }
        }
        return inputs.Select(x => adjoint.TryGetValue(x, out var d) ? d : Simplify.Zero).ToList();
    }

    /// <summary>Unique nodes, every child before its parents (post-order, deterministic).</summary>
    public static List<Expr> TopologicalOrder(params Expr[] roots)
    {
        var order = new List<Expr>();
        var seen = new HashSet<Expr>();
        foreach (var root in roots) Visit(root);
        return order;

        void Visit(Expr e)
        {
            if (!seen.Add(e)) return;
            foreach (var child in Children(e)) Visit(child);
            order.Add(e);
        }
    }

    public static IEnumerable<Expr> Children(Expr e)
    {
        switch (e)
        {
            case Binary b: yield return b.Left; yield return b.Right; break;
            case Neg n: yield return n.Operand; break;
            case Pow p: yield return p.Base; break;
            case Call c:
                yield return c.A;
                if (c.B is not null) yield return c.B;
                if (c.C is not null) yield return c.C;
                break;
            case Cond c: yield return c.Left; yield return c.Right; yield return c.WhenTrue; yield return c.WhenFalse; break;
        }
    }
}
