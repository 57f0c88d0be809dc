using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoeOpGen.Generator.Emit;
using MoeOpGen.Generator.Model;
using MoeOpGen.Generator.Parsing;

namespace MoeOpGen.Generator;

/// <summary>
/// The MoeOpGen incremental generator. For each class marked <c>[GatedActivation]</c> or <c>[Activation]</c>:
/// parse and differentiate its Forward into an equatable <see cref="OperatorModel"/> (the only cached step that
/// sees Roslyn), then emit three files from the model — the maths, the CUDA module, the tensor API.
/// Diagnostics and sources are separate outputs, so a maths error never hides the other operators' code.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class OperatorGenerator : IIncrementalGenerator
{
    public const string GatedAttribute = "MoeOpGen.GatedActivationAttribute";
    public const string UnaryAttribute = "MoeOpGen.ActivationAttribute";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        Register(context, GatedAttribute, OperatorKind.Gated);
        Register(context, UnaryAttribute, OperatorKind.Unary);
    }

    private static void Register(IncrementalGeneratorInitializationContext context, string attribute, OperatorKind kind)
    {
        var results = context.SyntaxProvider.ForAttributeWithMetadataName(
                attribute,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: (ctx, token) => OperatorParser.Parse(ctx, kind, token))
            .WithTrackingName("Parse" + kind);

        context.RegisterSourceOutput(results.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
        {
            foreach (var d in diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
        });

        var models = results.Where(static r => r.Model is not null).Select(static (r, _) => r.Model!).WithTrackingName("Model" + kind);
        context.RegisterSourceOutput(models, static (spc, model) =>
        {
            spc.AddSource(model.HintName + ".Maths.g.cs", MathsEmitter.Emit(model));
            spc.AddSource(model.HintName + ".Cuda.g.cs", CudaEmitter.Emit(model));
            spc.AddSource(model.HintName + ".Api.g.cs", ApiEmitter.Emit(model));
        });
    }
}
