using System.Collections.Generic;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Diagnostics;
using MoeOpGen.Generator.Maths;
using MoeOpGen.Generator.Model;
using static MoeOpGen.Generator.Maths.Simplify;

namespace MoeOpGen.Generator.Parsing;

/// <summary>
/// Reads the body of <c>Forward</c> (C# syntax plus the semantic model for calls and constants) into the
/// expression IR. Locals are substituted into their uses (and remembered by name, so the generated code can
/// keep them); anything outside the vocabulary becomes a diagnostic located at the offending syntax.
/// </summary>
internal sealed class ForwardBodyParser(SemanticModel model, IReadOnlyDictionary<string, Var> parameters)
{
    /// <summary>
    /// The deepest expression accepted, in syntax and once locals are substituted. The parser and everything after
    /// it (differentiation, printing) recurse once per level; a bound far beyond any activation (they are 5–30 deep)
    /// keeps that recursion well inside the compiler's stack instead of crashing the build on a generated body.
    /// </summary>
    internal const int MaxDepth = 256;

    private readonly Dictionary<string, Expr> _locals = [];
    private readonly List<DiagnosticInfo> _diagnostics = [];
    private int _nesting;
    private bool _reportedTooDeep;

    /// <summary>Locals whose initializer was rejected: their uses fail quietly, the initializer's diagnostic says why.</summary>
    private readonly HashSet<string> _failedLocals = [];

    /// <summary>The user's locals with their values, in declaration order.</summary>
    public List<(string Name, Expr Value)> NamedLocals { get; } = [];

    public IReadOnlyList<DiagnosticInfo> Diagnostics => _diagnostics;

    public Expr? Parse(MethodDeclarationSyntax method)
    {
        if (method.ExpressionBody is { } arrow) return Bounded(Expression(arrow.Expression), arrow.Expression);
        if (method.Body is null) return null;

        Expr? result = null;
        foreach (var statement in method.Body.Statements)
        {
            if (result is not null) { Report(DiagnosticDescriptors.UnsupportedSyntax, statement, Short(statement), "nothing may follow the return statement"); continue; }
            switch (statement)
            {
                case LocalDeclarationStatementSyntax local when !local.IsConst:
                    foreach (var declarator in local.Declaration.Variables)
                    {
                        if (declarator.Initializer is null) { Report(DiagnosticDescriptors.UnsupportedSyntax, declarator, declarator.ToString(), "a local needs an initializer"); continue; }
                        var value = Bounded(Expression(declarator.Initializer.Value), declarator.Initializer.Value);
                        if (value is null) { _failedLocals.Add(declarator.Identifier.ValueText); continue; }
                        _locals[declarator.Identifier.ValueText] = value;
                        NamedLocals.Add((declarator.Identifier.ValueText, value));
                    }
                    break;
                case LocalDeclarationStatementSyntax:
                    break;                                              // const locals: their uses fold to constants
                case ReturnStatementSyntax { Expression: { } returned }:
                    result = Bounded(Expression(returned), returned);
                    break;
                default:
                    Report(DiagnosticDescriptors.UnsupportedSyntax, statement, Short(statement), "only 'var' locals and one final 'return' are allowed");
                    break;
            }
        }
        // C# reports the missing return too (CS0161), but without this the operator would silently generate nothing.
        if (result is null && _diagnostics.Count == 0)
            Report(DiagnosticDescriptors.UnsupportedSyntax, method.Body, Short(method.Body), "the body must end with 'return <expression>;'");
        return result;
    }

    /// <summary><paramref name="value"/>, or null with a diagnostic when locals made it deeper than <see cref="MaxDepth"/>.</summary>
    private Expr? Bounded(Expr? value, ExpressionSyntax syntax)
    {
        if (value is null || value.Depth <= MaxDepth) return value;
        Report(DiagnosticDescriptors.UnsupportedSyntax, syntax, Short(syntax), $"with its locals substituted it is {value.Depth} operations deep, more than {MaxDepth}");
        return null;
    }

    private Expr? Expression(ExpressionSyntax syntax)
    {
        if (_nesting >= MaxDepth)
        {
            if (!_reportedTooDeep) Report(DiagnosticDescriptors.UnsupportedSyntax, syntax, Short(syntax), $"it is nested more than {MaxDepth} levels deep");
            _reportedTooDeep = true;
            return null;
        }
        _nesting++;
        try
        {
            return ExpressionCore(syntax);
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr? ExpressionCore(ExpressionSyntax syntax)
    {
        // Any numeric compile-time constant (literals, const fields, MathF.PI, 2f * 3f) is a literal.
        var constant = model.GetConstantValue(syntax);
        if (constant.HasValue && constant.Value is not null and not bool and not string and not char)
            return new Const(ToDouble(constant.Value));

        switch (syntax)
        {
            case ParenthesizedExpressionSyntax p:
                return Expression(p.Expression);
            case CastExpressionSyntax cast when IsFloatingType(cast.Type):
                return Expression(cast.Expression);
            case IdentifierNameSyntax id:
                return Identifier(id);
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression } neg:
                return Expression(neg.Operand) is { } operand ? Negate(operand) : null;
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryPlusExpression } plus:
                return Expression(plus.Operand);
            case BinaryExpressionSyntax binary:
                return BinaryExpression(binary);
            case ConditionalExpressionSyntax conditional:
                return Conditional(conditional);
            case InvocationExpressionSyntax invocation:
                return new CallParser(this).Parse(invocation);
            default:
                Report(DiagnosticDescriptors.UnsupportedSyntax, syntax, Short(syntax), Describe(syntax));
                return null;
        }
    }

    private Expr? Identifier(IdentifierNameSyntax id)
    {
        string name = id.Identifier.ValueText;
        if (_locals.TryGetValue(name, out var local)) return local;
        if (parameters.TryGetValue(name, out var parameter)) return parameter;
        if (_failedLocals.Contains(name)) return null;
        Report(DiagnosticDescriptors.UnsupportedSyntax, id, name, "only Forward's parameters, its locals and constants can be read");
        return null;
    }

    private Expr? BinaryExpression(BinaryExpressionSyntax binary)
    {
        var kind = binary.Kind();
        if (kind is not (SyntaxKind.AddExpression or SyntaxKind.SubtractExpression or SyntaxKind.MultiplyExpression or SyntaxKind.DivideExpression))
        {
            Report(DiagnosticDescriptors.UnsupportedSyntax, binary, Short(binary), $"the operator '{binary.OperatorToken.Text}' is not in the vocabulary (+ - * / and ?: on a comparison)");
            return null;
        }
        // C# computes int + - * / in integers (7 / 2 is 3, 46341 * 46341 overflows); the IR computes in float.
        if (model.GetTypeInfo(binary).Type is { SpecialType: >= SpecialType.System_Char and <= SpecialType.System_Decimal } type)
        {
            Report(DiagnosticDescriptors.UnsupportedSyntax, binary, Short(binary), $"C# computes it in {type.ToDisplayString()}, not float; make an operand float (e.g. 2f)");
            return null;
        }
        var left = Expression(binary.Left);
        var right = Expression(binary.Right);
        if (left is null || right is null) return null;
        return kind switch
        {
            SyntaxKind.AddExpression => Add(left, right),
            SyntaxKind.SubtractExpression => Sub(left, right),
            SyntaxKind.MultiplyExpression => Mul(left, right),
            _ => Div(left, right),
        };
    }

    private Expr? Conditional(ConditionalExpressionSyntax conditional)
    {
        var condition = conditional.Condition;
        while (condition is ParenthesizedExpressionSyntax p) condition = p.Expression;
        CompareOp? op = condition.Kind() switch
        {
            SyntaxKind.LessThanExpression => CompareOp.Less,
            SyntaxKind.LessThanOrEqualExpression => CompareOp.LessOrEqual,
            SyntaxKind.GreaterThanExpression => CompareOp.Greater,
            SyntaxKind.GreaterThanOrEqualExpression => CompareOp.GreaterOrEqual,
            _ => null,
        };
        if (op is null || condition is not BinaryExpressionSyntax comparison)
        {
            Report(DiagnosticDescriptors.ConditionNotComparison, conditional.Condition, conditional.Condition.ToString());
            return null;
        }
        var left = Expression(comparison.Left);
        var right = Expression(comparison.Right);
        var whenTrue = Expression(conditional.WhenTrue);
        var whenFalse = Expression(conditional.WhenFalse);
        if (left is null || right is null || whenTrue is null || whenFalse is null) return null;
        return Select(op.Value, left, right, whenTrue, whenFalse);
    }

    internal Expr? ParseArgument(ExpressionSyntax syntax) => Expression(syntax);

    internal SemanticModel Model => model;

    internal void Report(DiagnosticDescriptor descriptor, SyntaxNode at, params string[] args)
        => _diagnostics.Add(new DiagnosticInfo(descriptor, LocationInfo.From(at), args.ToEquatableArray()));

    private static bool IsFloatingType(TypeSyntax type)
        => type is PredefinedTypeSyntax p && (p.Keyword.IsKind(SyntaxKind.FloatKeyword) || p.Keyword.IsKind(SyntaxKind.DoubleKeyword));

    internal static double ToDouble(object value) => value switch
    {
        // A float literal is the float C# stores (1.702f is 1.70200002193451…): every engine, fp64 included,
        // then computes with the same constant, so the fp32 and fp64 engines agree to their own precision.
        float f => f,
        _ => System.Convert.ToDouble(value, CultureInfo.InvariantCulture),
    };

    private static string Short(SyntaxNode node)
    {
        var text = node.ToString().Replace("\r", " ").Replace("\n", " ");
        return text.Length > 60 ? text.Substring(0, 57) + "..." : text;
    }

    private static string Describe(SyntaxNode node) => node switch
    {
        AssignmentExpressionSyntax => "assignments are not allowed; declare a 'var' local instead",
        MemberAccessExpressionSyntax => "only constants and OpMath/MathF calls can be used",
        LiteralExpressionSyntax => "only numeric literals are allowed",
        _ => "it is not part of the vocabulary (docs/dsl.md)",
    };
}
