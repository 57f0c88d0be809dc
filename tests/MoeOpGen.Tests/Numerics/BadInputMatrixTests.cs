using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using MoeOpGen.Moe;
using MoeOpGen.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// The bad-input matrix of issue 7, for the cells BadInputTests (every operator) and RoutingValidationTests do not
/// already hold: a gated operator with scalars (QuickGeGlu) and a unary one (QuickGelu) through Apply, Forward and
/// Backward on both engines, the MoeUtils facade, TokenPermutation and MoEAuxLossAutoScaler, each against
/// {wrong dtype, wrong rank, mismatched rows, odd last dimension, weights [N], non-contiguous and offset views,
/// another device (the meta device stands in on the CPU; CUDA in the GPU suite), NaN and ±∞}. A rejected argument
/// is an ArgumentException whose ParamName is the caller's name for it; an accepted view gives the answer of its
/// contiguous copy; NaN and ±∞ propagate only to the elements that depend on them (docs/numerics.md). After every
/// bad call the reference call still gives its first answer bit for bit, and no backward failure is pending.
/// </summary>
[Collection(nameof(BackwardFailureTests))]   // asserts that no backward failure is pending: keep apart from the tests that cause them
public class BadInputMatrixTests
{
    private const long Rows = 6, Hidden = 4;
    private const float Alpha = 1.5f, Offset = 0.25f;

    private static Tensor Input() => Seeded(1, Rows, 2 * Hidden);
    private static Tensor Weights() => Seeded(2, Rows, 1).abs();
    private static Tensor Bias() => Seeded(3, 2 * Hidden);
    private static Tensor Grad() => Seeded(4, Rows, Hidden);
    private static Tensor Meta(Tensor t) => t.to(DeviceType.META);

    private static Tensor Seeded(long seed, params long[] shape) => randn(shape, generator: new Generator((ulong)seed));

    // ---- The gated operator: Apply, Forward and Backward on both engines --------------------------------------

    private static Tensor Apply(Tensor input, Tensor? weights, Tensor? bias) => QuickGeGlu.Apply(input, weights, bias, Alpha, Offset);

    private static Tensor Forward(Tensor input, Tensor? weights, Tensor? bias, Engine engine) => QuickGeGlu.Forward(input, weights, bias, Alpha, Offset, engine: engine);

    private static (Tensor InputGrad, Tensor? WeightsGrad, Tensor? BiasGrad) Backward(Tensor grad, Tensor input, Tensor? weights, Tensor? bias, Engine engine)
        => QuickGeGlu.Backward(grad, input, weights, bias, Alpha, Offset, engine: engine);

    public static TheoryData<string, string> GatedRejections => new()
    {
        { "input 0-d", "input" },
        { "input on another device", "input" },
        { "weights [1, N]", "weights" },
        { "weights with one row too many", "weights" },
        { "weights int32", "weights" },
        { "weights on another device", "weights" },
        { "bias 2-D", "bias" },
        { "bias strided", "bias" },
        { "bias on another device", "bias" },
        { "grad with one row too many", "grad" },
        { "grad on another device", "grad" },
        { "grad 0-d", "grad" },
    };

    [Theory]
    [MemberData(nameof(GatedRejections))]
    public void Gated_operator_names_the_bad_argument_and_keeps_working(string problem, string param)
    {
        using var scope = NewDisposeScope();
        var reference = GatedReference();
        Tensor input = Input(), weights = Weights(), bias = Bias(), grad = Grad();
        switch (problem)
        {
            case "input 0-d": input = tensor(1f); break;
            case "input on another device": input = Meta(input); weights = Meta(weights); bias = Meta(bias); grad = Meta(grad); break;
            case "weights [1, N]": weights = weights.reshape(1, Rows); break;
            case "weights with one row too many": weights = Seeded(2, Rows + 1, 1); break;
            case "weights int32": weights = ones(Rows, 1, dtype: ScalarType.Int32); break;
            case "weights on another device": weights = Meta(weights); break;
            case "bias 2-D": bias = bias.reshape(1, 2 * Hidden); break;
            case "bias strided": bias = Seeded(3, 4 * Hidden)[TensorIndex.Slice(step: 2)]; break;
            case "bias on another device": bias = Meta(bias); break;
            case "grad with one row too many": grad = Seeded(4, Rows + 1, Hidden); break;
            case "grad on another device": grad = Meta(grad); break;
            case "grad 0-d": grad = tensor(1f); break;
        }

        if (!param.Equals("grad", StringComparison.Ordinal))
        {
            Rejects(param, () => Apply(input, weights, bias), problem + ", Apply");
            foreach (var engine in new[] { Engine.Auto, Engine.Composite })
                Rejects(param, () => Forward(input, weights, bias, engine), $"{problem}, Forward {engine}");
        }
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
            Rejects(param, () => Backward(grad, input, weights, bias, engine), $"{problem}, Backward {engine}");

        AssertGatedStillGives(reference);
    }

    public static TheoryData<string> GatedAcceptedViews =>
        ["input offset", "weights strided", "weights offset", "bias offset", "grad strided", "grad offset"];

    [Theory]
    [MemberData(nameof(GatedAcceptedViews))]
    public void Gated_operator_gives_a_views_answer_equal_to_its_contiguous_copy(string view)
    {
        using var scope = NewDisposeScope();
        Tensor input = Input(), weights = Weights(), bias = Bias(), grad = Grad();
        // Each view holds the same values as the plain tensor, at another offset or stride in its storage.
        switch (view)
        {
            case "input offset": input = cat([Seeded(9, 3, 2 * Hidden), input])[3..]; break;
            case "weights strided": weights = cat([weights, weights], 1)[.., ..1]; break;
            case "weights offset": weights = cat([Seeded(9, 2, 1), weights])[2..]; break;
            case "bias offset": bias = cat([Seeded(9, 5), bias])[5..]; break;
            case "grad strided": grad = grad.t().contiguous().t(); break;
            case "grad offset": grad = cat([Seeded(9, 1, Hidden), grad])[1..]; break;
        }
        if (view == "weights strided") Assert.False(weights.is_contiguous());
        if (view == "grad strided") Assert.False(grad.is_contiguous());
        if (view.EndsWith("offset", StringComparison.Ordinal)) Assert.True((input.storage_offset() + weights.storage_offset() + bias.storage_offset() + grad.storage_offset()) > 0);

        var reference = GatedReference();
        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            Assert.True(Same(Forward(input, weights, bias, engine), Forward(Input(), Weights(), Bias(), engine)), $"{view}: Forward {engine}");
            var (dx, dw, db) = Backward(grad, input, weights, bias, engine);
            var (rx, rw, rb) = Backward(Grad(), Input(), Weights(), Bias(), engine);
            Assert.True(Same(dx, rx) && Same(dw!, rw!) && Same(db!, rb!), $"{view}: Backward {engine}");
        }
        AssertGatedStillGives(reference);
    }

    public static TheoryData<string, string> NonFiniteValues => new()
    {
        { "input", "NaN" }, { "input", "+inf" }, { "input", "-inf" },
        { "weights", "NaN" }, { "weights", "+inf" },
        { "bias", "NaN" }, { "bias", "-inf" },
        { "grad", "NaN" }, { "grad", "+inf" },
    };

    /// <summary>
    /// One non-finite element reaches exactly the elements that depend on it, on both engines: input (r, j) → output
    /// (r, j mod H) and input-gradient (r, j) and (r, j ± H); a weight of row r → that row's output and input
    /// gradient (its weights gradient Σ f·g does not read w, so it stays finite); bias column c → output column
    /// c mod H, input-gradient columns c and c ± H in every row, and the bias gradient there; grad (r, k) → input
    /// gradient (r, k) and (r, k + H) and the weights gradient of row r. Everything else equals the clean call.
    /// </summary>
    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void Gated_operator_confines_a_non_finite_value_to_the_elements_that_depend_on_it(string where, string value)
    {
        using var scope = NewDisposeScope();
        float poison = value switch { "NaN" => float.NaN, "+inf" => float.PositiveInfinity, _ => float.NegativeInfinity };
        const int r = 2, j = 1;
        Tensor input = Input(), weights = Weights(), bias = Bias(), grad = Grad();
        var target = where switch { "input" => input, "weights" => weights, "bias" => bias, _ => grad };
        using (no_grad())
        {
            if (where == "bias") target[j] = poison;
            else target[r, j % target.shape[1]] = poison;
        }

        foreach (var engine in new[] { Engine.Auto, Engine.Composite })
        {
            var clean = (Forward(Input(), Weights(), Bias(), engine), Backward(Grad(), Input(), Weights(), Bias(), engine));
            var output = Forward(input, weights, bias, engine);
            var (dx, dw, db) = Backward(grad, input, weights, bias, engine);

            // Which elements may differ from the clean call.
            var outputMask = zeros(Rows, Hidden, ScalarType.Bool);
            var dxMask = zeros(Rows, 2 * Hidden, ScalarType.Bool);
            var dwMask = zeros(Rows, 1, ScalarType.Bool);
            var dbMask = zeros(2 * Hidden, ScalarType.Bool);
            using (no_grad())
            {
                switch (where)
                {
                    case "input": outputMask[r, j % Hidden] = true; dxMask[r, j % Hidden] = true; dxMask[r, j % Hidden + Hidden] = true; dwMask[r] = true; dbMask[j % Hidden] = true; dbMask[j % Hidden + Hidden] = true; break;
                    case "weights": outputMask[r] = true; dxMask[r] = true; dbMask.fill_(true); break;
                    case "bias": outputMask[.., j % Hidden] = true; dxMask[.., j % Hidden] = true; dxMask[.., j % Hidden + Hidden] = true; dwMask.fill_(true); dbMask[j % Hidden] = true; dbMask[j % Hidden + Hidden] = true; break;
                    case "grad": dxMask[r, j] = true; dxMask[r, j + Hidden] = true; dwMask[r] = true; dbMask[j] = true; dbMask[j + Hidden] = true; break;
                }
            }
            string what = $"{value} in {where}, {engine}";
            AssertOnlyMaskedDiffer(clean.Item1, output, outputMask, what + ": output");
            AssertOnlyMaskedDiffer(clean.Item2.InputGrad, dx, dxMask, what + ": input gradient");
            AssertOnlyMaskedDiffer(clean.Item2.WeightsGrad!, dw!, dwMask, what + ": weights gradient");
            AssertOnlyMaskedDiffer(clean.Item2.BiasGrad!, db!, dbMask, what + ": bias gradient");
            // The poisoned element does reach a dependant (else the masks above would prove nothing).
            var reached = where switch { "grad" => dx[r, j], "weights" => output[r, 0], _ => output[r, j % Hidden] };
            Assert.False(reached.isfinite().item<bool>(), $"{what}: the value did not propagate");
        }
        AssertGatedStillGives(GatedReference());
    }

    private sealed record GatedResults(Tensor Output, Tensor Applied, Tensor InputGrad, Tensor WeightsGrad, Tensor BiasGrad);

    private static GatedResults GatedReference()
    {
        var x = Input().requires_grad_(true);
        var applied = Apply(x, Weights(), Bias());
        applied.backward([Grad()]);
        var (dx, dw, db) = Backward(Grad(), Input(), Weights(), Bias(), Engine.Auto);
        return new(Forward(Input(), Weights(), Bias(), Engine.Auto), applied.detach(), dx, dw!, db!);
    }

    private static void AssertGatedStillGives(GatedResults expected)
    {
        var actual = GatedReference();
        BackwardFailures.ThrowIfAny();
        Assert.True(Same(expected.Output, actual.Output) && Same(expected.Applied, actual.Applied) && Same(expected.InputGrad, actual.InputGrad)
                    && Same(expected.WeightsGrad, actual.WeightsGrad) && Same(expected.BiasGrad, actual.BiasGrad),
            "A bad call left state behind: the reference call now gives another answer.");
    }

    // ---- The unary operator -----------------------------------------------------------------------------------

    [Fact]
    public void Unary_operator_names_the_bad_argument_keeps_working_and_confines_non_finite_values()
    {
        using var scope = NewDisposeScope();
        var x = Input();
        var expected = QuickGelu.Backward(Grad().repeat(1, 2), x, Alpha);

        Rejects("input", () => QuickGelu.Apply(Meta(x), Alpha), "input on another device, Apply");
        Rejects("input", () => QuickGelu.Forward(Meta(x), Alpha), "input on another device, Forward");
        Rejects("grad", () => QuickGelu.Backward(Meta(Grad().repeat(1, 2)), x, Alpha), "grad on another device");
        Rejects("grad", () => QuickGelu.Backward(Grad(), x, Alpha), "grad of another shape");
        Rejects("input", () => QuickGelu.Forward(ones(Rows, 2 * Hidden, dtype: ScalarType.Int64), Alpha), "int64 input");
        // A 0-d input is a valid element-wise call.
        Assert.Equal(QuickGelu.ForwardF64(0.5, Alpha), QuickGelu.Forward(tensor(0.5f), Alpha).item<float>(), 6);

        foreach (float poison in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var dirty = x.clone();
            using (no_grad()) dirty[2, 3] = poison;
            var mask = zeros(Rows, 2 * Hidden, ScalarType.Bool);
            using (no_grad()) mask[2, 3] = true;
            foreach (var engine in new[] { Engine.Auto, Engine.Composite })
            {
                AssertOnlyMaskedDiffer(QuickGelu.Forward(x, Alpha, engine), QuickGelu.Forward(dirty, Alpha, engine), mask, $"{poison} forward {engine}");
                AssertOnlyMaskedDiffer(QuickGelu.Backward(Grad().repeat(1, 2), x, Alpha, engine), QuickGelu.Backward(Grad().repeat(1, 2), dirty, Alpha, engine), mask, $"{poison} backward {engine}");
            }
        }
        Assert.True(Same(expected, QuickGelu.Backward(Grad().repeat(1, 2), x, Alpha)));
    }

    // ---- The MoeUtils facade ----------------------------------------------------------------------------------

    /// <summary>One facade function called with (y, g, weights, bias); the names are the reference's.</summary>
    private sealed record FacadeCall(string Name, Func<Tensor, Tensor, Tensor, Tensor, Tensor> Call, bool HasGrad, bool HasWeights, bool HasBias);

    private static readonly FacadeCall[] FacadeCalls =
    [
        new("Swiglu", (y, _, _, _) => MoeUtils.Swiglu(y), false, false, false),
        new("WeightedSwiglu", (y, _, w, _) => MoeUtils.WeightedSwiglu(y, w), false, true, false),
        new("SwigluBack", (y, g, _, _) => MoeUtils.SwigluBack(g, y), true, false, false),
        new("WeightedSwigluBack", (y, g, w, _) => MoeUtils.WeightedSwigluBack(g, y, w).InputGrad, true, true, false),
        new("Geglu", (y, _, _, _) => MoeUtils.Geglu(y), false, false, false),
        new("WeightedGeglu", (y, _, w, _) => MoeUtils.WeightedGeglu(y, w), false, true, false),
        new("GegluBack", (y, g, _, _) => MoeUtils.GegluBack(g, y), true, false, false),
        new("WeightedGegluBack", (y, g, w, _) => MoeUtils.WeightedGegluBack(g, y, w).InputGrad, true, true, false),
        new("QuickGeglu", (y, _, _, _) => MoeUtils.QuickGeglu(y, 0.5), false, false, false),
        new("WeightedQuickGeglu", (y, _, w, _) => MoeUtils.WeightedQuickGeglu(y, w, 0.5), false, true, false),
        new("QuickGegluBack", (y, g, _, _) => MoeUtils.QuickGegluBack(g, y, 0.5), true, false, false),
        new("WeightedQuickGegluBack", (y, g, w, _) => MoeUtils.WeightedQuickGegluBack(g, y, w, 0.5).InputGrad, true, true, false),
        new("WeightedBiasQuickGeglu", (y, _, w, b) => MoeUtils.WeightedBiasQuickGeglu(y, b, w, 0.5), false, true, true),
        new("WeightedBiasQuickGegluBack", (y, g, w, b) => MoeUtils.WeightedBiasQuickGegluBack(g, y, b, w, 0.5).InputGrad, true, true, true),
    ];

    public static TheoryData<string> FacadeNames => new(FacadeCalls.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(FacadeNames))]
    public void Facade_function_names_its_own_argument_and_keeps_working(string function)
    {
        using var scope = NewDisposeScope();
        var f = FacadeCalls.Single(c => c.Name == function);
        Tensor y = Input(), g = Grad(), w = Weights(), b = Bias();
        var expected = f.Call(y, g, w, b);

        var cases = new List<(string Param, string Problem, Action Call)>
        {
            ("y", "int32 y", () => f.Call(ones(Rows, 2 * Hidden, dtype: ScalarType.Int32), g, w, b)),
            ("y", "odd last dimension", () => f.Call(Seeded(1, Rows, 2 * Hidden + 1), g, w, b)),
            ("y", "0-d y", () => f.Call(tensor(1f), g, w, b)),
            ("y", "y on another device", () => f.Call(Meta(y), Meta(g), Meta(w), Meta(b))),
        };
        if (f.HasGrad)
        {
            cases.Add(("g", "g with one row too many", () => f.Call(y, Seeded(4, Rows + 1, Hidden), w, b)));
            cases.Add(("g", "float64 g", () => f.Call(y, g.to(ScalarType.Float64), w, b)));
            cases.Add(("g", "g on another device", () => f.Call(y, Meta(g), w, b)));
        }
        if (f.HasWeights)
        {
            cases.Add(("weights", "weights [N]", () => f.Call(y, g, w.reshape(Rows), b)));
            cases.Add(("weights", "weights with one row too many", () => f.Call(y, g, Seeded(2, Rows + 1, 1), b)));
            cases.Add(("weights", "weights on another device", () => f.Call(y, g, Meta(w), b)));
        }
        if (f.HasBias)
        {
            cases.Add(("bias", "bias of another length", () => f.Call(y, g, w, Seeded(3, 2 * Hidden + 2))));
            cases.Add(("bias", "float64 bias", () => f.Call(y, g, w, b.to(ScalarType.Float64))));
        }
        foreach (var (param, problem, call) in cases)
        {
            Rejects(param, call, $"{function}: {problem}");
            Assert.True(Same(expected, f.Call(Input(), Grad(), Weights(), Bias())), $"{function}: {problem} left state behind");
        }
        // Views the facade accepts (it copies a strided y) give the contiguous answer.
        Assert.True(Same(expected, f.Call(cat([Seeded(9, 1, 2 * Hidden), y])[1..], g.t().contiguous().t(), w, b)), $"{function}: offset y, strided g");
        BackwardFailures.ThrowIfAny();
    }

    // ---- Routing ----------------------------------------------------------------------------------------------

    private static (Tensor Tokens, Tensor Map, Tensor Probs) RoutingCase() => MoeOpGen.Tests.Routing.RoutingTestData.TopK(tokens: 8, experts: 4, k: 2, hidden: 3, seed: 5);

    [Theory]
    [InlineData(false), InlineData(true)]
    public void Routing_accepts_views_and_integer_maps_with_the_answer_of_the_plain_call(bool fused)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingCase();
        var (permuted, permutedProbs, indices) = TokenPermutation.Permute(tokens, map, probs, fused: fused);
        var restored = TokenPermutation.Unpermute(permuted, indices, [8, 3], probs, map, fused: fused);

        var variants = new (string What, Tensor Tokens, Tensor Map, Tensor Probs)[]
        {
            ("strided tokens", tokens.t().contiguous().t(), map, probs),
            ("offset tokens", cat([Seeded(9, 2, 3), tokens])[2..], map, probs),
            ("strided probs", tokens, map, probs.t().contiguous().t()),
            ("offset probs", tokens, map, cat([Seeded(9, 1, 4), probs])[1..]),
            ("strided map", tokens, map.t().contiguous().t(), probs),
            ("int32 map", tokens, map.to(ScalarType.Int32), probs),
            ("uint8 map", tokens, map.to(ScalarType.Byte), probs),
        };
        foreach (var (what, t, m, p) in variants)
        {
            var (vp, vpp, vi) = TokenPermutation.Permute(t, m, p, fused: fused);
            Assert.True(Same(vp, permuted) && Same(vpp!, permutedProbs!) && Same(vi, indices), $"{what} (fused {fused}): permute");
            var vr = TokenPermutation.Unpermute(vp.t().contiguous().t(), vi, [8, 3], p, m, fused: fused);
            Assert.True(Same(vr, restored), $"{what} (fused {fused}): unpermute of strided rows");
        }
    }

    [Theory]
    [InlineData(false, "tokens"), InlineData(true, "tokens"), InlineData(false, "probs"), InlineData(true, "probs")]
    public void Routing_confines_a_NaN_to_the_token_it_belongs_to(bool fused, string where)
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingCase();
        const int token = 3;
        var dirtyTokens = tokens.clone();
        var dirtyProbs = probs.clone();
        long expert = map[token].nonzero()[0, 0].item<long>();
        using (no_grad())
        {
            if (where == "tokens") dirtyTokens[token, 1] = float.NaN;
            else dirtyProbs[token, expert] = float.NaN;
        }

        var (permuted, _, indices) = TokenPermutation.Permute(tokens, map, probs, fused: fused);
        var (dirtyPermuted, _, _) = TokenPermutation.Permute(dirtyTokens, map, dirtyProbs, fused: fused);
        var clean = TokenPermutation.Unpermute(permuted, indices, [8, 3], probs, map, fused: fused);
        var dirty = TokenPermutation.Unpermute(dirtyPermuted, indices, [8, 3], dirtyProbs, map, fused: fused);

        var mask = zeros(8, 3, ScalarType.Bool);
        using (no_grad()) { if (where == "tokens") mask[token, 1] = true; else mask[token] = true; }
        AssertOnlyMaskedDiffer(clean, dirty, mask, $"NaN in {where} (fused {fused})");
        Assert.True(dirty[token].isnan().any().item<bool>(), "the NaN did not reach its token");
    }

    [Fact]
    public void Routing_names_a_routing_map_on_another_device_and_keeps_working()
    {
        using var scope = NewDisposeScope();
        var (tokens, map, probs) = RoutingCase();
        var (expected, _, _) = TokenPermutation.Permute(tokens, map, probs);
        foreach (bool fused in new[] { false, true })
            Rejects("routingMap", () => TokenPermutation.Permute(tokens, Meta(map), fused: fused), $"map on another device, fused {fused}");
        var (permuted, _, ids) = TokenPermutation.Permute(tokens, map, probs);
        Rejects("routingMap", () => TokenPermutation.Unpermute(permuted, ids, [8, 3], probs, Meta(map)), "unpermute map on another device");
        Rejects("probs", () => TokenPermutation.Unpermute(permuted, ids, [8, 3], Meta(probs), map), "unpermute probs on another device");
        Rejects("routingMap", () => MoeUtils.Permute(tokens, map.reshape(-1)), "facade permute, 1-D map");
        Rejects("sortedIndices", () => MoeUtils.Unpermute(permuted, ids.to(ScalarType.Float32), [8, 3]), "facade unpermute, float indices");
        Assert.True(Same(expected, TokenPermutation.Permute(tokens, map, probs).PermutedInput));
    }

    // ---- MoEAuxLossAutoScaler ---------------------------------------------------------------------------------

    [Fact]
    public void Aux_loss_scaler_rejects_by_name_and_passes_NaN_through_without_touching_the_other_gradient()
    {
        using var scope = NewDisposeScope();
        try
        {
            Rejects("auxLoss", () => MoEAuxLossAutoScaler.Apply(Input(), ones(1, dtype: ScalarType.Int64)), "int64 aux loss");
            Rejects("scale", () => MoEAuxLossAutoScaler.SetLossScale(ones(2)), "two-element scale");
            Rejects("scale", () => MoEAuxLossAutoScaler.SetLossScale(ones(1, dtype: ScalarType.Int32)), "int scale");

            // A NaN aux loss: the output passes unchanged, and the aux loss's gradient is the scale (it never reads the loss).
            var output = Input().requires_grad_(true);
            var aux = tensor(float.NaN).requires_grad_(true);
            var y = MoEAuxLossAutoScaler.Apply(output, aux);
            y.backward([Grad().repeat(1, 2)]);
            BackwardFailures.ThrowIfAny();
            Assert.True(Same(y.detach(), Input()));
            Assert.True(Same(output.grad!, Grad().repeat(1, 2)));
            Assert.Equal(1f, aux.grad!.item<float>());

            // A NaN scale reaches the aux loss's gradient only.
            MoEAuxLossAutoScaler.SetLossScale(tensor(float.NaN));
            var output2 = Input().requires_grad_(true);
            var aux2 = tensor(0.5f).requires_grad_(true);
            MoEAuxLossAutoScaler.Apply(output2, aux2).backward([Grad().repeat(1, 2)]);
            BackwardFailures.ThrowIfAny();
            Assert.True(float.IsNaN(aux2.grad!.item<float>()));
            Assert.True(Same(output2.grad!, Grad().repeat(1, 2)));
        }
        finally
        {
            MoEAuxLossAutoScaler.ResetLossScale();
        }
    }

    // ---- GPU: tensors on different real devices ---------------------------------------------------------------

    [Fact]
    [Trait("Category", "Gpu")]
    public void Every_api_names_a_tensor_left_on_the_cpu_when_the_input_is_on_cuda()
    {
        Assert.SkipUnless(cuda.is_available(), "No CUDA device.");
        using var scope = NewDisposeScope();
        Tensor x = Input().cuda(), w = Weights().cuda(), b = Bias().cuda(), g = Grad().cuda();
        Rejects("weights", () => Apply(x, Weights(), b), "Apply, weights on the CPU");
        Rejects("bias", () => Forward(x, w, Bias(), Engine.Auto), "Forward, bias on the CPU");
        Rejects("grad", () => Backward(Grad(), x, w, b, Engine.Auto), "Backward, grad on the CPU");
        // The input is the reference device: with it on the CPU, the CUDA tensor beside it is the one named.
        Rejects("grad", () => Backward(g, Input(), null, null, Engine.Auto), "Backward, input on the CPU and grad on CUDA");
        Rejects("grad", () => QuickGelu.Backward(Grad().repeat(1, 2), x, Alpha), "unary Backward, grad on the CPU");
        Rejects("weights", () => MoeUtils.WeightedSwiglu(x, Weights()), "facade, weights on the CPU");
        Rejects("g", () => MoeUtils.SwigluBack(Grad(), x), "facade, g on the CPU");
        var (tokens, map, probs) = RoutingCase();
        Rejects("routingMap", () => TokenPermutation.Permute(tokens.cuda(), map), "Permute, map on the CPU");
        Rejects("probs", () => TokenPermutation.Permute(tokens.cuda(), map.cuda(), probs), "Permute, probs on the CPU");
        var (permuted, _, ids) = TokenPermutation.Permute(tokens.cuda(), map.cuda(), probs.cuda());
        Rejects("sortedIndices", () => TokenPermutation.Unpermute(permuted, ids.cpu(), [8, 3]), "Unpermute, indices on the CPU");
        Rejects("probs", () => TokenPermutation.Unpermute(permuted, ids, [8, 3], probs, map.cuda()), "Unpermute, probs on the CPU");
        // Still correct afterwards, and equal to the CPU.
        TensorAssert.Close(Forward(Input(), Weights(), Bias(), Engine.Auto), Forward(x, w, b, Engine.Auto).cpu(), Tolerance.Fp32, "CUDA forward after the bad calls");
    }

    // ---- Helpers ----------------------------------------------------------------------------------------------

    private static void Rejects(string param, Action call, string what)
    {
        var ex = Record.Exception(call);
        Assert.True(ex is ArgumentException, $"{what}: expected ArgumentException({param}), got {ex?.GetType().Name ?? "no exception"}: {ex?.Message}");
        Assert.True(((ArgumentException)ex!).ParamName == param, $"{what}: ParamName '{((ArgumentException)ex).ParamName}', expected '{param}' ({ex.Message})");
    }

    private static void Rejects(string param, Func<object?> call, string what) => Rejects(param, () => { call(); }, what);

    /// <summary>Same shape, dtype and values (TorchSharp's Tensor.equal compares element-wise).</summary>
    private static bool Same(Tensor a, Tensor b)
        => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a.numel() == 0 || a.eq(b).all().item<bool>());

    /// <summary>Outside <paramref name="mask"/>, <paramref name="actual"/> equals <paramref name="clean"/> bit for bit (the kernels are deterministic).</summary>
    private static void AssertOnlyMaskedDiffer(Tensor clean, Tensor actual, Tensor mask, string what)
    {
        Assert.Equal(clean.shape, actual.shape);
        var outside = mask.logical_not();
        var a = actual.masked_select(outside);
        var c = clean.masked_select(outside);
        if (!Same(a, c))
            Assert.Fail($"{what}: an element outside the dependants changed (max difference {(a - c).abs().nan_to_num(1e30).max().item<float>()})");
    }
}
