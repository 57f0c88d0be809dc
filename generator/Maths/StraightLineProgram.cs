using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Generator.Model;

namespace MoeOpGen.Generator.Maths;

/// <summary><c>name = value</c>, one line of a straight-line program.</summary>
internal sealed record Assignment(string Name, Expr Value);

/// <summary>
/// Maths as straight-line code: temporaries (common subexpressions, and the user's own <c>var</c> locals where
/// they survive) followed by the named outputs. Every emitter prints the same program, so every engine evaluates
/// the same operations in the same order.
/// </summary>
internal sealed record StraightLineProgram(EquatableArray<Assignment> Temps, EquatableArray<Assignment> Outputs)
{
    /// <summary>
    /// Builds the program by common-subexpression elimination: a node used twice or more (structurally equal
    /// subtrees count as one node) becomes a temporary, named after the user's local of the same value if any.
    /// </summary>
    public static StraightLineProgram Build(
        IReadOnlyList<(string Name, Expr Value)> outputs,
        IReadOnlyList<(string Name, Expr Value)> preferredNames,
        ISet<string> takenNames)
    {
        var order = Differentiator.TopologicalOrder(outputs.Select(o => o.Value).ToArray());
        var uses = new Dictionary<Expr, int>();
        foreach (var node in order)
            foreach (var child in Differentiator.Children(node))
                uses[child] = uses.TryGetValue(child, out var n) ? n + 1 : 1;
        foreach (var (_, value) in outputs) uses[value] = uses.TryGetValue(value, out var n) ? n + 1 : 1;

        var preferred = new Dictionary<Expr, string>();
        foreach (var (name, value) in preferredNames)
            if (!preferred.ContainsKey(value)) preferred[value] = name;

        var used = new HashSet<string>(takenNames);
        int counter = 0;
        var replacement = new Dictionary<Expr, Expr>();
        var temps = new List<Assignment>();
        foreach (var node in order)
        {
            var rewritten = Rewrite(node, replacement);
            bool shared = uses.TryGetValue(node, out var count) && count >= 2;
            bool named = preferred.TryGetValue(node, out var userName);
            if (IsTrivial(node) || !(shared || named)) { replacement[node] = rewritten; continue; }
            string name = named && used.Add(userName!) ? userName! : NextName();
            temps.Add(new Assignment(name, rewritten));
            replacement[node] = new Var(name, VarKind.Temp);
        }

        var outs = outputs.Select(o => new Assignment(o.Name, replacement[o.Value])).ToList();
        return new StraightLineProgram(temps.ToEquatableArray(), outs.ToEquatableArray());

        string NextName()
        {
            string n;
            do n = "t" + counter++.ToString(System.Globalization.CultureInfo.InvariantCulture); while (!used.Add(n));
            return n;
        }
    }

    private static bool IsTrivial(Expr e) => e is Var or Const || (e is Neg n && n.Operand is Var or Const);

    /// <summary>The node with its children replaced by what they became (a temporary or a rewritten tree).</summary>
    private static Expr Rewrite(Expr node, IReadOnlyDictionary<Expr, Expr> r) => node switch
    {
        Binary b => new Binary(b.Op, r[b.Left], r[b.Right]),
        Neg n => new Neg(r[n.Operand]),
        Pow p => new Pow(r[p.Base], p.Exponent),
        Call c => new Call(c.Function, r[c.A], c.B is null ? null : r[c.B], c.C is null ? null : r[c.C]),
        Cond c => new Cond(c.Compare, r[c.Left], r[c.Right], r[c.WhenTrue], r[c.WhenFalse]),
        _ => node,
    };
}
