using System.Linq;
using MoeOpGen.Generator.Model;

namespace MoeOpGen.Generator.Emit;

/// <summary>
/// Emits <c>{Operator}.Api.g.cs</c>: the TorchSharp autograd function and the tensor entry points — the
/// differentiable <c>Apply</c> and the explicit <c>Forward</c>/<c>Backward</c> — which dispatch to the CUDA kernels
/// for CUDA tensors and to the fused CPU kernel otherwise.
/// </summary>
internal static class ApiEmitter
{
    public static string Emit(OperatorModel m)
    {
        var w = SourceHeader.Begin(m.Namespace,
            "using Tensor = global::TorchSharp.torch.Tensor;\nusing GateLayout = global::MoeOpGen.GateLayout;\nusing Engine = global::MoeOpGen.Engines.Engine;");
        w.Open($"partial class {m.ClassName}");
        string scalars = MathsEmitter.Params(m, "float", defaults: true);
        string bind = $"new Maths({string.Join(", ", m.Scalars.Select(s => s.Name))})";
        string sc = MathsEmitter.Comma(scalars);
        bool gated = m.Kind == OperatorKind.Gated;
        string engineBase = gated ? "GatedFunction" : "UnaryFunction";
        string op = gated ? "GatedOperator" : "UnaryOperator";

        w.Line($"/// <summary>The TorchSharp autograd function of <see cref=\"{m.ClassName}\"/>; it saves only the input (or its FP8 copy) and the weights.</summary>");
        w.Line(SourceHeader.GeneratedCode);
        w.Open($"public sealed class Function : global::MoeOpGen.Engines.{engineBase}<Function, Maths>");
        w.Line("/// <inheritdoc/>");
        w.Line($"public override string Name => \"{m.ClassName}\";");
        w.Close().Line();

        if (gated)
        {
            w.Line($"/// <summary>Differentiable {m.ClassName}: input <c>[..., 2H]</c> (gate and linear parts, see <paramref name=\"layout\"/>) to output <c>[..., H]</c>.</summary>");
            w.Line("/// <param name=\"input\">The pre-activation, fp32, fp16, bf16 or (CPU) fp64.</param>");
            w.Line("/// <param name=\"weights\">Optional token weights <c>[rows, 1]</c>: the output is multiplied by them.</param>");
            w.Line("/// <param name=\"bias\">Optional bias <c>[2H]</c>, added to the input after the clamp.</param>");
            foreach (var p in m.Scalars) w.Line($"/// <param name=\"{p.Name}\">The [Scalar] <c>{p.Name}</c> of Forward.</param>");
            w.Line("/// <param name=\"clampValue\">If not null (0 included), gate = min(a, c) and linear = clip(b, −c, c) before the bias.</param>");
            w.Line("/// <param name=\"fp8InputStore\">Keep the input for backward as FP8 E4M3 (saturating at ±448).</param>");
            w.Line("/// <param name=\"layout\">Where the gate and linear parts are in the last dimension.</param>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static Tensor Apply(Tensor input, Tensor? weights = null, Tensor? bias = null{sc}, double? clampValue = null, bool fp8InputStore = false, GateLayout layout = GateLayout.Halves)");
            w.Line($"    => Function.Apply({bind}, input, weights, bias, new global::MoeOpGen.Engines.GatedOptions(clampValue, fp8InputStore, layout));").Line();

            w.Line($"/// <summary>{m.ClassName} forward without autograd, on the chosen engine.</summary>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static Tensor Forward(Tensor input, Tensor? weights = null, Tensor? bias = null{sc}, double? clampValue = null, GateLayout layout = GateLayout.Halves, Engine engine = Engine.Auto)");
            w.Line($"    => global::MoeOpGen.Engines.{op}<Maths>.Forward({bind}, input, weights, bias, new global::MoeOpGen.Engines.GatedOptions(clampValue, false, layout), engine);").Line();

            w.Line($"/// <summary>{m.ClassName} backward without autograd: the gradients of input, weights and bias for the output gradient <paramref name=\"grad\"/>.</summary>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) Backward(Tensor grad, Tensor input, Tensor? weights = null, Tensor? bias = null{sc}, double? clampValue = null, GateLayout layout = GateLayout.Halves, Engine engine = Engine.Auto)");
            w.Line($"    => global::MoeOpGen.Engines.{op}<Maths>.Backward({bind}, grad, input, weights, bias, new global::MoeOpGen.Engines.GatedOptions(clampValue, false, layout), engine);");
        }
        else
        {
            w.Line($"/// <summary>Differentiable {m.ClassName}, element-wise.</summary>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static Tensor Apply(Tensor input{sc})");
            w.Line($"    => Function.Apply({bind}, input);").Line();

            w.Line($"/// <summary>{m.ClassName} forward without autograd, on the chosen engine.</summary>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static Tensor Forward(Tensor input{sc}, Engine engine = Engine.Auto)");
            w.Line($"    => global::MoeOpGen.Engines.{op}<Maths>.Forward({bind}, input, engine);").Line();

            w.Line($"/// <summary>{m.ClassName} backward without autograd: the input gradient for the output gradient <paramref name=\"grad\"/>.</summary>");
            w.Line(SourceHeader.GeneratedCode);
            w.Line($"public static Tensor Backward(Tensor grad, Tensor input{sc}, Engine engine = Engine.Auto)");
            w.Line($"    => global::MoeOpGen.Engines.{op}<Maths>.Backward({bind}, grad, input, engine);");
        }
        w.Close();
        return w.ToString();
    }
}
