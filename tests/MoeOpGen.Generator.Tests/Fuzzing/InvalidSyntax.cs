using System;
using System.Collections.Generic;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// The constructs the DSL rejects (docs/dsl.md, docs/diagnostics/), each with the diagnostic ids allowed to report
/// it. An invalid body is a valid one with exactly one of these put in: in place of a subexpression of the return
/// value, as a statement of a block body, after the return, or instead of the return.
/// </summary>
internal static class InvalidSyntax
{
    private const string Unsupported = "MOG0007", UnknownCall = "MOG0008", NonConstantExponent = "MOG0009",
        NoDerivative = "MOG0010", NotAComparison = "MOG0012";

    /// <summary>What a mutation may draw on: random valid subexpressions and the operator's input names.</summary>
    internal sealed class Context(OperatorGrammar grammar, IReadOnlyList<string> inputs, int scalarCount)
    {
        /// <summary>A small valid expression that reads an input (never a C# constant).</summary>
        public string E()
        {
            var e = grammar.Expression(2);
            return e.ReadsInput ? e.ToString() : $"({e} * {In()})";
        }

        public string In() => grammar.Pick(inputs);

        public string AllInputs => string.Join(", ", inputs);

        public int ScalarCount => scalarCount;
    }

    /// <summary>One kind of invalid construct. Exactly one of <see cref="Expression"/> and <see cref="Statement"/> is set.</summary>
    internal sealed record Mutation(string Kind, string[] ExpectedIds)
    {
        public Func<Context, string>? Expression { get; init; }
        public Func<Context, string>? Statement { get; init; }

        /// <summary>An unmarked statement the mutation needs first (e.g. the int local it divides).</summary>
        public string? Prelude { get; init; }

        public bool AfterReturn { get; init; }

        /// <summary>The block has no <c>return &lt;expression&gt;;</c> at all; the statement marks the whole gap.</summary>
        public bool ReplacesReturn { get; init; }

        public bool IsStatement => Statement is not null || ReplacesReturn;

        public bool NeedsBlock => IsStatement || Prelude is not null;
    }

    private static Mutation Expr(string kind, string id, Func<Context, string> text) => new(kind, [id]) { Expression = text };

    private static Mutation Stmt(string kind, string id, Func<Context, string> text) => new(kind, [id]) { Statement = text };

    public static readonly IReadOnlyList<Mutation> All =
    [
        // Functions outside the vocabulary, unknown names, wrong arity.
        Expr("unknown function", UnknownCall, c => $"Foo({c.E()})"),
        Expr("unknown type", UnknownCall, c => $"Unknown.Exp({c.E()})"),
        Expr("MathF.Sin", UnknownCall, c => $"MathF.Sin({c.E()})"),
        Expr("MathF.Cos", UnknownCall, c => $"MathF.Cos({c.E()})"),
        Expr("MathF.Cbrt", UnknownCall, c => $"MathF.Cbrt({c.E()})"),
        Expr("MathF.Log2", UnknownCall, c => $"MathF.Log2({c.E()})"),
        Expr("Math.Sinh", UnknownCall, c => $"(float)Math.Sinh({c.E()})"),
        Expr("MathF.Atan2", UnknownCall, c => $"MathF.Atan2({c.E()}, 1f)"),
        Expr("MathF.FusedMultiplyAdd", UnknownCall, c => $"MathF.FusedMultiplyAdd({c.E()}, 2f, 1f)"),
        Expr("two-argument Log", UnknownCall, c => $"MathF.Log({c.E()}, 2f)"),
        Expr("Exp arity 2", UnknownCall, c => $"Exp({c.E()}, {c.E()})"),
        Expr("Sigmoid arity 0", UnknownCall, _ => "Sigmoid()"),
        Expr("Clamp arity 2", UnknownCall, c => $"Clamp({c.E()}, 0f)"),
        Expr("Min arity 1", UnknownCall, c => $"Min({c.E()})"),
        Expr("Tanh arity 3", UnknownCall, c => $"OpMath.Tanh({c.E()}, 1f, 2f)"),
        Expr("Pow arity 1", UnknownCall, c => $"Pow({c.E()})"),
        Expr("Erf through MathF", UnknownCall, c => $"MathF.Erf({c.E()})"),
        Expr("helper method", UnknownCall, c => $"Helper({c.E()})"),
        Expr("recursive Forward", UnknownCall, c => $"Forward({c.AllInputs})"),
        Expr("float.Parse", UnknownCall, _ => "float.Parse(\"1\")"),
        Expr("method on a float", UnknownCall, c => $"{c.In()}.CompareTo(1f)"),
        Expr("delegate invocation", UnknownCall, c => $"((Func<float, float>)(q => q * 2f))({c.E()})"),
        Expr("generic method", UnknownCall, c => $"Generic<float>({c.E()})"),

        // Piecewise-constant functions.
        Expr("MathF.Floor", NoDerivative, c => $"MathF.Floor({c.E()})"),
        Expr("MathF.Ceiling", NoDerivative, c => $"MathF.Ceiling({c.E()})"),
        Expr("MathF.Round", NoDerivative, c => $"MathF.Round({c.E()})"),
        Expr("MathF.Truncate", NoDerivative, c => $"MathF.Truncate({c.E()})"),
        Expr("MathF.Sign", NoDerivative, c => $"MathF.Sign({c.E()})"),
        Expr("MathF.CopySign", NoDerivative, c => $"MathF.CopySign({c.E()}, -1f)"),
        Expr("Math.Round with digits", NoDerivative, c => $"(float)Math.Round({c.E()}, 2)"),

        // Pow with an exponent that is not a numeric constant.
        Expr("Pow input exponent", NonConstantExponent, c => $"Pow({c.E()}, {c.In()})"),
        Expr("MathF.Pow expression exponent", NonConstantExponent, c => $"MathF.Pow({c.E()}, {c.E()})"),
        Expr("Pow static field exponent", NonConstantExponent, c => $"Pow({c.E()}, NotConstant)"),
        Expr("Pow char exponent", NonConstantExponent, c => $"Pow({c.E()}, '\\u0002')"),
        Expr("Pow string-length exponent", NonConstantExponent, c => $"Pow({c.E()}, \"ab\".Length)"),

        // Conditions that are not one <, <=, >, >= comparison.
        Expr("== condition", NotAComparison, c => $"({c.In()} == 0f ? {c.E()} : 1f)"),
        Expr("!= condition", NotAComparison, c => $"({c.In()} != 1f ? {c.E()} : {c.E()})"),
        Expr("&& condition", NotAComparison, c => $"({c.In()} > 0f && {c.In()} < 1f ? {c.E()} : 0f)"),
        Expr("! condition", NotAComparison, c => $"(!({c.In()} > 0f) ? {c.E()} : 0.5f)"),
        Expr("pattern condition", NotAComparison, c => $"({c.In()} is > 0f ? {c.E()} : 0.5f)"),
        Expr("call condition", NotAComparison, c => $"(float.IsNaN({c.In()}) ? 0f : {c.E()})"),
        Expr("literal condition", NotAComparison, c => $"(true ? {c.E()} : 1f)"),

        // Operators and expressions outside the vocabulary.
        Expr("remainder", Unsupported, c => $"({c.In()} % 2f)"),
        Expr("shift (does not compile)", Unsupported, c => $"({c.In()} << 1)"),
        Expr("xor (does not compile)", Unsupported, c => $"({c.In()} ^ {c.In()})"),
        Expr("assignment", Unsupported, c => $"({c.In()} = 2f)"),
        Expr("compound assignment", Unsupported, c => $"({c.In()} += 1f)"),
        Expr("postfix increment", Unsupported, c => $"{c.In()}++"),
        Expr("prefix decrement", Unsupported, c => $"--{c.In()}"),
        Expr("checked", Unsupported, c => $"checked({c.E()})"),
        Expr("int cast", Unsupported, c => $"(float)(int){c.E()}"),
        Expr("long cast", Unsupported, c => $"(float)(long)({c.E()})"),
        Expr("decimal cast", Unsupported, c => $"(float)(decimal)({c.E()})"),
        Expr("Half cast", Unsupported, c => $"(float)(System.Half)({c.E()})"),
        Expr("object cast", Unsupported, c => $"(float)(object)({c.E()})"),
        Expr("static field", Unsupported, _ => "NotConstant"),
        Expr("string member", Unsupported, _ => "\"ab\".Length"),
        Expr("nameof member", Unsupported, c => $"nameof({c.In()}).Length"),
        Expr("array element", Unsupported, c => $"new[] {{ {c.E()} }}[0]"),
        Expr("tuple member", Unsupported, c => $"({c.In()}, 1f).Item1"),
        Expr("switch expression", Unsupported, c => $"({c.E()} switch {{ _ => 1f }})"),
        Expr("throw expression", Unsupported, c => $"({c.In()} > 0f ? {c.E()} : throw new ArgumentException())"),
        Expr("int conditional divided", Unsupported, c => $"(({c.In()} > 0f ? 3 : 1) / 2)"),
        new Mutation("int local divided", [Unsupported]) { Prelude = "var q = 3 + (int)Two;", Expression = _ => "(q / 2)" },
        new Mutation("int local multiplied", [Unsupported]) { Prelude = "int m = 46341;", Expression = _ => "(m * m)" },

        // Statements a block body may not have.
        Stmt("if return", Unsupported, c => $"if ({c.In()} > 0f) return {c.E()};"),
        Stmt("if assign", Unsupported, c => $"if ({c.In()} > 0f) {c.In()} = 0f;"),
        Stmt("for loop", Unsupported, _ => "for (int i = 0; i < 3; i++) { }"),
        Stmt("for loop with body", Unsupported, c => { string x = c.In(); return $"for (var i = 0; i < 2; i++) {x} = {x} * 2f;"; }),
        Stmt("while loop", Unsupported, c => { string x = c.In(); return $"while ({x} > 10f) {x} = {x} * 0.5f;"; }),
        Stmt("do loop", Unsupported, _ => "do { } while (false);"),
        Stmt("foreach", Unsupported, c => $"foreach (var q in new[] {{ {c.In()} }}) {{ }}"),
        Stmt("assignment statement", Unsupported, c => $"{c.In()} = {c.E()};"),
        Stmt("compound assignment statement", Unsupported, c => $"{c.In()} *= 2f;"),
        Stmt("increment statement", Unsupported, c => $"{c.In()}++;"),
        Stmt("local without initializer", Unsupported, _ => "float uninitialized;"),
        Stmt("throw", Unsupported, c => $"if (float.IsNaN({c.In()})) throw new ArgumentException();"),
        Stmt("try", Unsupported, _ => "try { } finally { }"),
        Stmt("local function", Unsupported, _ => "float Twice(float q) => q * 2f;"),
        Stmt("nested block", Unsupported, _ => "{ }"),
        Stmt("empty statement", Unsupported, _ => ";"),
        Stmt("checked block", Unsupported, _ => "checked { }"),
        Stmt("lock", Unsupported, _ => "lock (typeof(object)) { }"),
        Stmt("switch", Unsupported, c => $"switch ({c.In()} > 0f) {{ default: break; }}"),
        Stmt("deconstruction", Unsupported, c => $"var (p, q) = ({c.In()}, 1f);"),
        Stmt("call statement", Unsupported, c => $"Console.WriteLine({c.In()});"),
        Stmt("ref local", Unsupported, c => $"ref float r = ref {c.In()};"),
        Stmt("int local of a cast", Unsupported, c => $"int n = (int){c.In()};"),
        Stmt("bool local", Unsupported, c => $"bool flag = {c.In()} > 0f;"),
        Stmt("string local", Unsupported, _ => "string text = \"x\";"),
        Stmt("bare return", Unsupported, _ => "return;") with { AfterReturn = false },
        Stmt("statement after return", Unsupported, _ => "var after = 1f;") with { AfterReturn = true },
        Stmt("second return", Unsupported, c => $"return {c.E()};") with { AfterReturn = true },
        new Mutation("no return", [Unsupported]) { ReplacesReturn = true },
    ];

    public static Mutation Choose(Random rng) => All[rng.Next(All.Count)];
}
