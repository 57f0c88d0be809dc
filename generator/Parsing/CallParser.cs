using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Diagnostics;
using MoeOpGen.Generator.Maths;
using static MoeOpGen.Generator.Maths.Simplify;

namespace MoeOpGen.Generator.Parsing;

/// <summary>Maps a call in Forward to an IR function: OpMath's vocabulary and its MathF/Math twins.</summary>
internal sealed class CallParser(ForwardBodyParser body)
{
    public Expr? Parse(InvocationExpressionSyntax invocation)
    {
        var symbolInfo = body.Model.GetSymbolInfo(invocation);
        if (symbolInfo.Symbol is not IMethodSymbol method)
        {
            // A vocabulary function with the right number of arguments that does not bind has a bad argument:
            // report what is wrong inside the argument rather than blame the function.
            if (symbolInfo.CandidateReason == CandidateReason.OverloadResolutionFailure
                && symbolInfo.CandidateSymbols.Any(c => c is IMethodSymbol m && m.Parameters.Length == invocation.ArgumentList.Arguments.Count
                    && m.ContainingType.ToDisplayString() is "MoeOpGen.OpMath" or "System.MathF" or "System.Math")
                && !invocation.ArgumentList.Arguments.All(a => body.ParseArgument(a.Expression) is not null))
                return null;
            body.Report(DiagnosticDescriptors.UnsupportedCall, invocation, invocation.Expression.ToString());
            return null;
        }
        string container = method.ContainingType.ToDisplayString();
        bool isOpMath = container == "MoeOpGen.OpMath";
        if (!isOpMath && container is not ("System.MathF" or "System.Math"))
        {
            body.Report(DiagnosticDescriptors.UnsupportedCall, invocation, container + "." + method.Name);
            return null;
        }
        if (method.Name is "Floor" or "Ceiling" or "Round" or "Truncate" or "Sign" or "CopySign")
        {
            body.Report(DiagnosticDescriptors.NoDerivative, invocation, container + "." + method.Name);
            return null;
        }

        var args = invocation.ArgumentList.Arguments;
        if (method.Name == "Pow" && args.Count == 2) return ParsePow(invocation, args);

        Func? function = method.Name switch
        {
            "Exp" => Func.Exp, "Log" when args.Count == 1 => Func.Log, "Sqrt" => Func.Sqrt, "Tanh" => Func.Tanh,
            "Abs" => Func.Abs, "Min" => Func.Min, "Max" => Func.Max, "Clamp" => Func.Clamp,
            "Erf" when isOpMath => Func.Erf, "Sigmoid" when isOpMath => Func.Sigmoid,
            _ => null,
        };
        if (function is null)
        {
            body.Report(DiagnosticDescriptors.UnsupportedCall, invocation, container + "." + method.Name);
            return null;
        }

        var parsed = new Expr?[args.Count];
        bool ok = true;
        for (int i = 0; i < args.Count; i++) ok &= (parsed[i] = body.ParseArgument(args[i].Expression)) is not null;
        if (!ok) return null;
        return Call(function.Value, parsed[0]!, parsed.Length > 1 ? parsed[1] : null, parsed.Length > 2 ? parsed[2] : null);
    }

    private Expr? ParsePow(InvocationExpressionSyntax invocation, Microsoft.CodeAnalysis.SeparatedSyntaxList<ArgumentSyntax> args)
    {
        var exponent = body.Model.GetConstantValue(args[1].Expression);
        if (!exponent.HasValue || exponent.Value is null || exponent.Value is bool or string or char)
        {
            body.Report(DiagnosticDescriptors.NonConstantExponent, args[1], args[1].ToString());
            return null;
        }
        var x = body.ParseArgument(args[0].Expression);
        return x is null ? null : Power(x, ForwardBodyParser.ToDouble(exponent.Value));
    }
}
