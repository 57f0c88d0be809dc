using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis.Text;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// Writes random operator classes from the DSL's vocabulary (docs/dsl.md): valid ones, whose maths the fuzzer
/// can evaluate itself, and invalid ones with exactly one construct the DSL rejects (<see cref="InvalidSyntax"/>).
/// Everything comes from <c>new Random(seed)</c>, so a seed reproduces its operator exactly.
/// </summary>
/// <remarks>
/// Valid bodies keep the maths well defined where it is evaluated: Log, Sqrt and fractional or negative powers get
/// positive arguments (<c>1f + e*e</c>, <c>Sigmoid(e)</c>, …) and divisors are bounded away from zero, so what the
/// finite-difference check skips is only the kinks (Abs, Min, Max, Clamp, ?:) and overflow. Names are drawn from
/// pools that include what generated code also uses (<c>t0</c>, <c>value</c>, <c>grad</c>, <c>s</c>, <c>OpMath</c>,
/// C++ keywords such as <c>auto</c>): a user may name a local anything C# allows.
/// </remarks>
internal sealed class OperatorGrammar
{
    private static readonly (string Text, double Value)[] Literals =
    [
        ("0.5f", 0.5), ("2f", 2), ("1.5F", 1.5), ("0.25f", 0.25), ("3f", 3), ("0.125f", 0.125), ("1f", 1), ("0.75f", 0.75),
        ("1.702f", 1.702f), ("0.044715f", 0.044715f), ("0.1f", 0.1f), ("1e-1f", 0.1f), ("0.5e1f", 5), ("(float)0.5", 0.5),
        ("2.0f", 2), ("Half", 0.5), ("Two", 2), ("MathF.PI", MathF.PI), ("MathF.E", MathF.E), ("(2f * 0.25f)", 0.5),
        ("(1f / 3f)", 1f / 3f), ("0.7978845608028654f", 0.7978845608028654f), ("1.4142135f", 1.4142135f), ("-0.5f", -0.5), ("-2f", -2),
        ("float.Epsilon", float.Epsilon), ("1e-30f", 1e-30f), ("(float)1e-50", 0),
    ];

    /// <summary>Pow exponents that need no domain guard (integers ≥ 0), then those that do.</summary>
    private static readonly (string Text, double Value)[] SafeExponents =
        [("2", 2), ("2f", 2), ("3", 3), ("3f", 3), ("4", 4), ("0", 0), ("1", 1), ("Two", 2), ("(float)2", 2), ("5f", 5)];

    private static readonly (string Text, double Value)[] GuardedExponents =
        [("0.5f", 0.5), ("1.5f", 1.5), ("2.5f", 2.5), ("-1", -1), ("-2f", -2), ("-0.5f", -0.5), ("Half", 0.5), ("0.75f", 0.75), ("-1.5f", -1.5)];

    /// <summary>Scalar names that are usable (names the generated code needs are MOG0011: <see cref="ScalarNameTests"/>).</summary>
    private static readonly string[] ScalarNames =
        ["alpha", "beta", "k", "offset", "scale", "cap", "t0", "t1", "h", "n", "w", "tid", "half", "rows", "unused", "options", "call", "output", "i", "row"];

    private static readonly string[] LocalNames =
        ["a", "b", "c", "d", "u", "v", "t0", "t1", "t3", "value", "grad", "dGate", "dLinear", "dX", "result", "s", "h", "rows",
         "scope", "maths", "input", "weights", "bias", "auto", "register", "signed", "half", "threadIdx", "α", "@float", "@double",
         "OpMath", "CompositeMath", "Tensor", "MathF", "Math", "x2", "e1"];

    /// <summary>Local names that would break the CUDA module if the generator kept them.</summary>
    public static readonly string[] CudaSensitiveNames = ["auto", "register", "signed", "half", "threadIdx", "s", "α"];

    /// <summary>Comments inside bodies, with text that is special in the generated code's comments and strings.</summary>
    private static readonly string[] Comments =
        ["/* note */ ", "/* \"\"\" */ ", "/* <c> & </c> */ ", "/* \\ */ ", "/* {{ }} $\"\"\" */ ", "/* \u00e9\u4e2d */ ", "/**/"];

    private static readonly string[] LineComments =
        ["// note", "// \"\"\" raw-string quotes", "// ends with a backslash \\", "// */ <b> & </b>", "/// <summary>not a doc</summary>"];

    private readonly Random _rng;
    private readonly int _seed;
    private readonly List<FuzzExpr> _inputRefs = [];
    private readonly List<FuzzExpr> _readable = [];                 // inputs, scalars and the locals declared so far
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _onlyUsingStaticSpellings;                            // a local hides OpMath, MathF or Math
    private Queue<string> _localNames = new();

    private readonly bool _invalid;

    private OperatorGrammar(int seed, bool invalid)
    {
        _seed = seed;
        _invalid = invalid;
        _rng = new Random(seed);
    }

    public static FuzzOperator Valid(int seed) => new OperatorGrammar(seed, invalid: false).Build(invalid: false);

    public static FuzzOperator Invalid(int seed) => new OperatorGrammar(seed, invalid: true).Build(invalid: true);

    private FuzzOperator Build(bool invalid)
    {
        bool gated = _rng.NextDouble() < 0.6;
        string className = (invalid ? "Bad" : "Op") + _seed.ToString(CultureInfo.InvariantCulture);
        string[] inputNames = gated
            ? Pick<string[]>([["gate", "linear"], ["gate", "linear"], ["gate", "linear"], ["a", "b"], ["g", "u"], ["x", "y"], ["grad", "input"]])
            : Pick<string[]>([["x"], ["x"], ["x"], ["v"], ["input"], ["grad"], ["gate"]]);
        foreach (var name in inputNames)
        {
            _names.Add(name);
            var input = new RefExpr(name, p => p.Value(name), readsInput: true);
            _inputRefs.Add(input);
            _readable.Add(input);
        }

        var scalars = new List<FuzzScalar>();
        int scalarCount = _rng.NextDouble() switch { < 0.6 => 0, < 0.85 => 1, _ => 2 };
        for (int i = 0; i < scalarCount; i++)
        {
            string name = FreshName(ScalarNames);
            var (text, defaultValue) = Pick(Literals.Where(l => l.Value > 0).ToArray());
            scalars.Add(new FuzzScalar(name, defaultValue, text));
            _readable.Add(new RefExpr(name, p => p.Value(name), readsInput: false));
        }

        var w = new SourceWriter();
        w.Write("using System;\nusing MoeOpGen;\nusing static MoeOpGen.OpMath;\n\nnamespace " + FuzzOperator.Namespace + ";\n\n");
        w.Write(gated ? "[GatedActivation]\n" : "[Activation]\n");
        w.Write($"public static partial class {className}\n{{\n");
        w.Write("    private const float Two = 2f;\n    private const float Half = 0.5f;\n");
        w.Write("    private static float NotConstant = 2f;\n    private static float Helper(float v) => v;\n\n");
        string parameters = string.Join(", ", inputNames.Select(n => "float " + n)
            .Concat(scalars.Select(s => $"[Scalar] float {s.Name} = {s.DefaultText}")));
        w.Write($"    public static float Forward({parameters})");

        int bodyStart = w.Length;
        FuzzExpr? value;
        InvalidSyntax.Mutation? mutation = invalid ? InvalidSyntax.Choose(_rng) : null;
        var mutationContext = new InvalidSyntax.Context(this, inputNames, scalars.Count);
        if (_rng.NextDouble() < 0.45 && mutation is not { NeedsBlock: true })
        {
            // Expression body.
            w.Write("\n        => ");
            value = ReturnExpression(mutation, mutationContext);
            value.Print(w);
            w.Write(";\n");
        }
        else
        {
            value = BlockBody(w, mutation, mutationContext);
        }
        int bodyEnd = w.Length;
        w.Write("}\n");

        string source = w.ToString();
        var body = TextSpan.FromBounds(bodyStart, bodyEnd);
        // "No return" has no text of its own: what is wrong is the block as a whole.
        TextSpan? marked = mutation is { ReplacesReturn: true } ? body : w.Marked is { } m ? TextSpan.FromBounds(m.Start, m.End) : null;
        if (invalid && marked is null) throw new InvalidOperationException($"seed {_seed}: the mutation was not printed");
        return new FuzzOperator(_seed, className, gated, inputNames, scalars, source,
            body, invalid ? null : value, marked,
            mutation?.ExpectedIds ?? [], mutation?.Kind ?? "");
    }

    private FuzzExpr? BlockBody(SourceWriter w, InvalidSyntax.Mutation? mutation, InvalidSyntax.Context context)
    {
        w.Write("\n    {\n");
        int locals = _rng.Next(0, 4);
        // A local's scope is the whole block in C#, so one named like OpMath hides OpMath.X everywhere in it.
        // The mutations spell MathF.X and OpMath.X themselves, so an invalid body keeps those names free.
        var pool = _invalid ? LocalNames.Where(n => n is not ("OpMath" or "MathF" or "Math")).ToArray() : LocalNames;
        _localNames = new Queue<string>(Enumerable.Range(0, 2 * locals).Select(_ => FreshName(pool)));
        if (_localNames.Any(n => n is "OpMath" or "MathF" or "Math")) _onlyUsingStaticSpellings = true;
        if (mutation?.Prelude is { } prelude) w.Write("        " + prelude + "\n");
        int mutationSlot = mutation is { IsStatement: true } ? _rng.Next(0, locals + 1) : -1;
        if (_rng.NextDouble() < 0.2) w.Write("        " + Pick(LineComments) + "\n");
        bool region = _rng.NextDouble() < 0.05;
        if (region) w.Write("#region fuzz\n");
        for (int i = 0; i <= locals; i++)
        {
            if (i == mutationSlot && !mutation!.AfterReturn && !mutation.ReplacesReturn)
            {
                w.Write("        ");
                w.Mark(() => w.Write(mutation.Statement!(context)));
                w.Write("\n");
            }
            if (i == locals) break;
            DeclareLocals(w);
        }
        if (region) w.Write("#endregion\n");

        FuzzExpr? value = null;
        if (mutation is { ReplacesReturn: true })
        {
            // The body ends without 'return <expression>;': the whole block is what is wrong.
            w.Write("        var unusedResult = " + Expression(2) + ";\n");
        }
        else
        {
            w.Write("        return ");
            value = ReturnExpression(mutation is { IsStatement: false } ? mutation : null, context);
            value.Print(w);
            w.Write(";");
            if (_rng.NextDouble() < 0.15) w.Write(" " + Pick(LineComments));
            w.Write("\n");
            if (mutation is { AfterReturn: true })
            {
                w.Write("        ");
                w.Mark(() => w.Write(mutation.Statement!(context)));
                w.Write("\n");
            }
        }
        w.Write("    }\n");
        return value;
    }

    private void DeclareLocals(SourceWriter w)
    {
        if (_rng.NextDouble() < 0.1)
        {
            // A const local: its uses are literals.
            string constName = _localNames.Dequeue();
            var (text, constValue) = Pick(Literals.Where(l => !l.Text.StartsWith("MathF", StringComparison.Ordinal) || !_onlyUsingStaticSpellings).ToArray());
            w.Write($"        const float {constName} = {text};\n");
            _readable.Add(new LiteralExpr(constName, constValue));
            return;
        }
        int declarators = _rng.NextDouble() < 0.2 ? 2 : 1;
        string keyword = declarators == 2 || _rng.NextDouble() < 0.3 ? "float" : "var";
        w.Write("        " + keyword + " ");
        var declared = new List<FuzzExpr>();
        for (int d = 0; d < declarators; d++)
        {
            string name = _localNames.Dequeue();
            var init = Expression(_rng.Next(1, 4));
            if (d > 0) w.Write(", ");
            w.Write(name + " = ");
            if (_rng.NextDouble() < 0.1) w.Write(Pick(Comments));
            init.Print(w);
            declared.Add(new RefExpr(name, init.Evaluate, init.ReadsInput));
        }
        w.Write(";\n");
        _readable.AddRange(declared);     // C# scope: a declarator cannot read its own statement's locals here
    }

    /// <summary>The returned expression; it reads an input (a Forward that ignores its inputs is valid but dull).</summary>
    private FuzzExpr ReturnExpression(InvalidSyntax.Mutation? mutation, InvalidSyntax.Context context)
    {
        var value = Expression(_rng.Next(2, 6));
        if (!value.ReadsInput) value = new BinaryExpr('*', value, Pick(_inputRefs));
        if (mutation is { IsStatement: false, NeedsBlock: false })
        {
            var bad = new InvalidExpr(mutation.Expression!(context));
            value = _rng.Next(3) switch
            {
                0 => new BinaryExpr('+', value, bad),
                1 => new BinaryExpr('*', bad, value),
                _ => new CallExpr("Tanh", "Tanh", "", new BinaryExpr('-', value, bad)),
            };
        }
        else if (mutation is { IsStatement: false, NeedsBlock: true })
        {
            value = new BinaryExpr('+', value, new InvalidExpr(mutation.Expression!(context)));
        }
        return value;
    }

    /// <summary>A random valid float expression of at most <paramref name="depth"/> levels.</summary>
    internal FuzzExpr Expression(int depth)
    {
        if (depth <= 0 || _rng.NextDouble() < 0.15) return Leaf();
        double roll = _rng.NextDouble();
        int d = depth - 1;
        switch (roll)
        {
            case < 0.30:
                return new BinaryExpr(Pick(['+', '-', '*']), Expression(d), Expression(d));
            case < 0.38:
                return new BinaryExpr('/', Expression(d), Divisor(d));
            case < 0.42:
                return new UnaryExpr(_rng.NextDouble() < 0.85 ? '-' : '+', Expression(d));
            case < 0.46:
                return Pick<Func<FuzzExpr, FuzzExpr>>(
                [
                    e => new WrapExpr("(", e, ")"),
                    e => new WrapExpr("(float)(", e, ")"),
                    e => new WrapExpr("(float)(double)(", e, ")"),
                    e => new WrapExpr(Pick(Comments), e, ""),
                ])(Expression(d));
            case < 0.58:
                return Call(Pick(["Tanh", "Sigmoid", "Erf"]), Expression(d));
            case < 0.63:
                // Exp of a bounded argument mostly, so deep bodies rarely overflow.
                return Call("Exp", _rng.NextDouble() < 0.6 ? Call("Tanh", Expression(d)) : Expression(d));
            case < 0.68:
                return Call(Pick(["Log", "Sqrt"]), Positive(d));
            case < 0.73:
                return Call("Abs", Expression(d));
            case < 0.80:
                return Call(Pick(["Min", "Max"]), Expression(d), Expression(d));
            case < 0.84:
                return Clamp(d);
            case < 0.91:
                return Power(d);
            default:
                return new ConditionalExpr(Pick(["<", "<=", ">", ">="]), Expression(d), Expression(d), Expression(d), Expression(d));
        }
    }

    private FuzzExpr Leaf()
    {
        if (_rng.NextDouble() < 0.7) return Pick(_readable);
        var (text, value) = Pick(Literals.Where(l => !l.Text.StartsWith("MathF", StringComparison.Ordinal) || !_onlyUsingStaticSpellings).ToArray());
        return new LiteralExpr(text, value);
    }

    /// <summary>An expression that is positive (and at least ~1e-9) wherever it is finite.</summary>
    private FuzzExpr Positive(int depth)
    {
        var e = Expression(depth);
        return _rng.Next(5) switch
        {
            0 => new BinaryExpr('+', new LiteralExpr("1f", 1), new BinaryExpr('*', e, e)),
            1 => Call("Sigmoid", e),
            2 => new BinaryExpr('+', Call("Abs", e), new LiteralExpr("0.5f", 0.5)),
            3 => new BinaryExpr('+', new BinaryExpr('*', e, e), new LiteralExpr("0.25f", 0.25)),
            _ => Call("Exp", Call("Tanh", e)),
        };
    }

    /// <summary>A divisor bounded away from zero: a positive expression, 2 + tanh(e), or a nonzero literal.</summary>
    private FuzzExpr Divisor(int depth) => _rng.Next(3) switch
    {
        0 => Positive(depth),
        1 => new BinaryExpr('+', new LiteralExpr("2f", 2), Call("Tanh", Expression(depth))),
        _ => Literal(Pick(["2f", "0.5f", "3f", "-4f", "Two"])),
    };

    private static LiteralExpr Literal(string text) => new(text, text switch { "2f" or "Two" => 2, "0.5f" => 0.5, "3f" => 3, "-4f" => -4, _ => throw new ArgumentOutOfRangeException(nameof(text)) });

    private FuzzExpr Clamp(int depth)
    {
        var x = Expression(depth);
        if (_rng.NextDouble() < 0.7)
        {
            double lo = Pick([-1.5, -1.0, -0.5, 0.0, 0.25]), hi = lo + Pick([0.5, 1.0, 2.0, 3.0]);
            string spelling = Spelling("Clamp");
            // An infinite bound is a one-sided clamp (ReLU as Clamp(x, 0f, float.PositiveInfinity)).
            return _rng.Next(8) switch
            {
                0 => new CallExpr("Clamp", spelling, "", x, Num(lo), new LiteralExpr("float.PositiveInfinity", double.PositiveInfinity)),
                1 => new CallExpr("Clamp", spelling, "", x, new LiteralExpr("float.NegativeInfinity", double.NegativeInfinity), Num(hi)),
                _ => new CallExpr("Clamp", spelling, "", x, Num(lo), Num(hi)),
            };
        }
        // Bounds that are expressions (lo may exceed hi: OpMath's rule still defines the value and derivative).
        return new CallExpr("Clamp", _onlyUsingStaticSpellings ? "Clamp" : Pick(["Clamp", "OpMath.Clamp"]), "", x, Expression(depth), Expression(depth));
    }

    private static LiteralExpr Num(double value) => new(value.ToString("0.0##", CultureInfo.InvariantCulture) + "f", value);

    private FuzzExpr Power(int depth)
    {
        string spelling = Spelling("Pow");
        string suffix = "";
        if (spelling.StartsWith("(float)", StringComparison.Ordinal)) { spelling = "(float)Math.Pow"; }
        if (_rng.NextDouble() < 0.55)
        {
            var (text, n) = Pick(SafeExponents);
            return new PowExpr(spelling, suffix, Expression(depth), text, n);
        }
        var (guardedText, guarded) = Pick(GuardedExponents);
        return new PowExpr(spelling, suffix, Positive(depth), guardedText, guarded);
    }

    private CallExpr Call(string function, params FuzzExpr[] arguments) => new(function, Spelling(function), "", arguments);

    /// <summary>How a function is written: through using static, OpMath, MathF or Math (double ones cast back).</summary>
    private string Spelling(string function)
    {
        if (_onlyUsingStaticSpellings) return function;
        string[] options = function switch
        {
            "Erf" or "Sigmoid" => [function, "OpMath." + function, "global::MoeOpGen.OpMath." + function],
            "Abs" or "Min" or "Max" => [function, "OpMath." + function, "MathF." + function, "Math." + function],
            "Clamp" => [function, "OpMath." + function, "Math." + function],
            _ => [function, function, "OpMath." + function, "MathF." + function, "System.MathF." + function, "(float)Math." + function],
        };
        return Pick(options);
    }

    private string FreshName(string[] pool)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            string name = Pick(pool);
            if (_names.Add(name)) return name;
        }
        string fallback = "n" + _names.Count.ToString(CultureInfo.InvariantCulture);
        _names.Add(fallback);
        return fallback;
    }

    internal T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    internal double NextDouble() => _rng.NextDouble();
}
