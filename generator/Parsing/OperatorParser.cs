using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Diagnostics;
using MoeOpGen.Generator.Maths;
using MoeOpGen.Generator.Model;

namespace MoeOpGen.Generator.Parsing;

/// <summary>
/// The transform step of the pipeline: one attributed class in, one <see cref="ParseResult"/> out. Checks the
/// declaration, parses Forward, differentiates it and builds the straight-line programs the emitters print.
/// </summary>
internal static class OperatorParser
{
    /// <summary>Members the generator adds to the class.</summary>
    private static readonly string[] GeneratedMembers =
        ["Backward", "ForwardF64", "BackwardF64", "Apply", "Maths", "Function", "CudaSource"];

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, OperatorKind kind, CancellationToken token)
    {
        var declaration = (ClassDeclarationSyntax)context.TargetNode;
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var diagnostics = new List<DiagnosticInfo>();
        void Report(DiagnosticDescriptor d, SyntaxNode? node, SyntaxToken? tokenAt, params string[] args)
            => diagnostics.Add(new DiagnosticInfo(d, tokenAt is { } t ? LocationInfo.From(t) : node is null ? null : LocationInfo.From(node), args.ToEquatableArray()));

        try
        {
            return ParseCore();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The generator never throws into the compiler (that would be CS8785 and no output at all).
            Report(DiagnosticDescriptors.InternalError, null, declaration.Identifier, type.Name, ex.GetType().Name + ": " + ex.Message);
            return new ParseResult(null, diagnostics.ToEquatableArray());
        }

        ParseResult ParseCore()
        {
            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword)) Report(DiagnosticDescriptors.ClassNotPartial, null, declaration.Identifier, type.Name);
            if (!type.IsStatic) Report(DiagnosticDescriptors.ClassNotStatic, null, declaration.Identifier, type.Name);
            if (type.ContainingType is not null || type.IsGenericType) Report(DiagnosticDescriptors.UnsupportedContainer, null, declaration.Identifier, type.Name);
            string otherAttribute = kind == OperatorKind.Gated ? "MoeOpGen.ActivationAttribute" : "MoeOpGen.GatedActivationAttribute";
            if (kind == OperatorKind.Unary && type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == otherAttribute))
                return Fail();                                                    // reported once, by the gated pass
            if (kind == OperatorKind.Gated && type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == otherAttribute))
                Report(DiagnosticDescriptors.ConflictingAttributes, null, declaration.Identifier, type.Name);

            foreach (var member in type.GetMembers().Where(m => GeneratedMembers.Contains(m.Name) && !m.IsImplicitlyDeclared))
            {
                if (member.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(token) is { } syntax && syntax.SyntaxTree.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)) continue;
                Report(DiagnosticDescriptors.NameClash, null, member.Locations.FirstOrDefault() is { } l ? FindToken(l) : declaration.Identifier, member.Name, "a member MoeOpGen generates");
            }

            var forwards = declaration.Members.OfType<MethodDeclarationSyntax>().Where(m => m.Identifier.ValueText == "Forward").ToList();
            if (forwards.Count == 0) { Report(DiagnosticDescriptors.MissingForward, null, declaration.Identifier, type.Name); return Fail(); }
            foreach (var extra in forwards.Skip(1)) Report(DiagnosticDescriptors.DuplicateForward, null, extra.Identifier, type.Name);
            var forward = forwards[0];
            if (context.SemanticModel.GetDeclaredSymbol(forward, token) is not { } method) return Fail();

            var (parameters, scalars) = CheckSignature(forward, method, kind, Report);
            if (diagnostics.Count > 0 || parameters is null) return Fail();

            var bodyParser = new ForwardBodyParser(context.SemanticModel, parameters);
            var value = bodyParser.Parse(forward);
            diagnostics.AddRange(bodyParser.Diagnostics);
            if (diagnostics.Count > 0 || value is null) return Fail();
            token.ThrowIfCancellationRequested();

            var model = BuildModel(type, declaration, kind, scalars!, value, bodyParser.NamedLocals, forward);
            return new ParseResult(model, EquatableArray<DiagnosticInfo>.Empty);
        }

        ParseResult Fail() => new(null, diagnostics.ToEquatableArray());
    }

    private static SyntaxToken? FindToken(Location location)
        => location.SourceTree?.GetRoot().FindToken(location.SourceSpan.Start);

    private static (Dictionary<string, Var>? Parameters, List<ScalarParameter>? Scalars) CheckSignature(
        MethodDeclarationSyntax forward, IMethodSymbol method, OperatorKind kind, Action<DiagnosticDescriptor, SyntaxNode?, SyntaxToken?, string[]> report)
    {
        string[] canonical = kind == OperatorKind.Gated ? ["gate", "linear"] : ["x"];
        string expected = kind == OperatorKind.Gated
            ? "static float Forward(float gate, float linear, [Scalar] float p = …)"
            : "static float Forward(float x, [Scalar] float p = …)";
        if (!method.IsStatic || method.ReturnType.SpecialType != SpecialType.System_Single || method.IsGenericMethod
            || method.Parameters.Length < canonical.Length)
        {
            report(DiagnosticDescriptors.ForwardSignature, null, forward.Identifier, [$"Forward must be declared '{expected}'"]);
            return (null, null);
        }

        var parameters = new Dictionary<string, Var>();
        var scalars = new List<ScalarParameter>();
        bool ok = true;
        for (int i = 0; i < method.Parameters.Length; i++)
        {
            var p = method.Parameters[i];
            var syntax = forward.ParameterList.Parameters[i];
            bool isScalar = p.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "MoeOpGen.ScalarAttribute");
            bool isFloat = p.Type.SpecialType == SpecialType.System_Single && p.RefKind == RefKind.None;
            if (i < canonical.Length)
            {
                if (!isFloat || isScalar)
                {
                    report(DiagnosticDescriptors.ForwardSignature, syntax, null, [$"Input parameter '{p.Name}' must be a plain 'float' (no [Scalar], ref or out): Forward must be declared '{expected}'"]);
                    ok = false;
                }
                parameters[p.Name] = new Var(canonical[i], VarKind.Input);
                continue;
            }
            if (!isScalar || !isFloat) { report(DiagnosticDescriptors.ScalarParameter, syntax, null, [p.Name, string.Join(", ", canonical)]); ok = false; continue; }
            if (!GeneratedNames.IsUsableScalarName(p.Name)) { report(DiagnosticDescriptors.NameClash, syntax, syntax.Identifier, [p.Name, "a name or keyword of the generated C# or CUDA code"]); ok = false; continue; }
            if (!p.HasExplicitDefaultValue || p.ExplicitDefaultValue is null) { report(DiagnosticDescriptors.ScalarNeedsDefault, syntax, syntax.Identifier, [p.Name]); ok = false; continue; }
            parameters[p.Name] = new Var(p.Name, VarKind.Scalar);
            scalars.Add(new ScalarParameter(p.Name, ForwardBodyParser.ToDouble(p.ExplicitDefaultValue)));
        }
        return ok ? (parameters, scalars) : (null, null);
    }

    private static OperatorModel BuildModel(INamedTypeSymbol type, ClassDeclarationSyntax declaration, OperatorKind kind,
        List<ScalarParameter> scalars, Expr value, List<(string Name, Expr Value)> locals, MethodDeclarationSyntax forward)
    {
        var inputs = kind == OperatorKind.Gated
            ? new[] { new Var("gate", VarKind.Input), new Var("linear", VarKind.Input) }
            : new[] { new Var("x", VarKind.Input) };
        string[] gradientNames = kind == OperatorKind.Gated ? ["dGate", "dLinear"] : ["dX"];
        var grad = new Var("grad", VarKind.Gradient);
        var gradients = Differentiator.Gradients(value, inputs, grad);

        var taken = new HashSet<string>(inputs.Select(i => i.Name).Concat(scalars.Select(s => s.Name)).Concat(gradientNames).Concat(["grad", "value"]));
        var gradientOutputs = gradientNames.Zip(gradients, (n, g) => (n, g)).ToList();

        // A local lends its name to a temporary only where that name works in every generated language.
        locals = locals.Where(l => GeneratedNames.IsUsableLocalName(l.Name)).ToList();
        var forwardProgram = StraightLineProgram.Build([("value", value)], locals, taken);
        var backwardProgram = StraightLineProgram.Build(gradientOutputs, locals, taken);
        var fusedProgram = StraightLineProgram.Build([("value", value), .. gradientOutputs], locals, taken);

        string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        string hint = (ns is null ? "" : ns + ".") + type.MetadataName;
        string accessibility = type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal";
        string formula = Normalize(WithoutComments(forward.ExpressionBody?.Expression ?? (SyntaxNode?)forward.Body));
        return new OperatorModel(ns, type.Name, hint, accessibility, kind, scalars.ToEquatableArray(), formula,
            forwardProgram, backwardProgram, fusedProgram);
    }

    /// <summary>
    /// The body's text without comments and directives: the formula is printed in comments of the generated C#
    /// and CUDA, inside the CUDA raw string, where a user's comment could end the string (<c>"""</c>) or continue
    /// the CUDA comment onto the next line (a trailing <c>\</c>).
    /// </summary>
    private static string WithoutComments(SyntaxNode? body)
    {
        if (body is null) return "";
        var trivia = body.DescendantTrivia(descendIntoTrivia: true)
            .Where(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia) || t.IsKind(SyntaxKind.MultiLineCommentTrivia)
                || t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia) || t.IsKind(SyntaxKind.MultiLineDocumentationCommentTrivia)
                || t.IsDirective || t.IsKind(SyntaxKind.DisabledTextTrivia));
        return body.ReplaceTrivia(trivia, (_, _) => SyntaxFactory.Space).ToString();
    }

    /// <summary>The Forward body on as few lines as it takes, for the comments of the generated code.</summary>
    private static string Normalize(string body)
    {
        var lines = body.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l != "{" && l != "}");
        return string.Join(" ", lines.Select(l => string.Join(" ", l.Split([' '], StringSplitOptions.RemoveEmptyEntries))));
    }
}
