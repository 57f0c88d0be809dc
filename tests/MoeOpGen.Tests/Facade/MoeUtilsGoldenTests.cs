using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using MoeOpGen.Ops;
using MoeOpGen.Tests.Golden;
using Tolerance = MoeOpGen.Tests.Numerics.Tolerance;
using MoeOpGen.Tests.Routing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Facade;

/// <summary>
/// Every case of the reference's golden tensors (<c>../shared/golden</c>, read by <see cref="GoldenCases"/>) run
/// through the facade <see cref="MoeUtils"/> on one device: the activations, and permute / unpermute on both the
/// non-fused and the fused path. One body for every device: <see cref="MoeUtilsGoldenCpuTests"/> runs it on the CPU,
/// Gpu/MoeUtilsGoldenCudaTests on CUDA. (The aux-loss case, which sets process-wide state, is run on both devices by
/// AuxLossAutoScalerTests.)
/// </summary>
public abstract class MoeUtilsGoldenTests
{
    /// <summary>The device the inputs are moved to before the facade call.</summary>
    protected abstract Device Device { get; }

    /// <summary>Skips the test when <see cref="Device"/> is not available here.</summary>
    protected virtual void RequireDevice()
    {
    }

    /// <summary>One runner per golden activation function: calls the facade the way the reference function was
    /// called and records every output that the case stores.</summary>
    private static readonly Dictionary<string, Action<GoldenRun>> Runners = new()
    {
        ["swiglu"] = r => r.Check("out", MoeUtils.Swiglu(r["y"])),
        ["weighted_swiglu"] = r => r.Check("out", MoeUtils.WeightedSwiglu(r["y"], r["weights"])),
        ["swiglu_back"] = r => r.Check("out", MoeUtils.SwigluBack(r["g"], r["y"])),
        ["weighted_swiglu_back"] = r => r.CheckGrads(MoeUtils.WeightedSwigluBack(r["g"], r["y"], r["weights"])),
        ["weighted_bias_swiglu_impl"] = r => r.RunImpl((input, _, weights) =>
            MoeUtils.WeightedBiasSwigluImpl(input, weights, r.Flag("fp8_input_store"))),

        ["geglu"] = r => r.Check("out", MoeUtils.Geglu(r["y"])),
        ["weighted_geglu"] = r => r.Check("out", MoeUtils.WeightedGeglu(r["y"], r["weights"])),
        ["geglu_back"] = r => r.Check("out", MoeUtils.GegluBack(r["g"], r["y"])),
        ["weighted_geglu_back"] = r => r.CheckGrads(MoeUtils.WeightedGegluBack(r["g"], r["y"], r["weights"])),
        ["weighted_bias_geglu_impl"] = r => r.RunImpl((input, _, weights) =>
            MoeUtils.WeightedBiasGegluImpl(input, weights, r.Flag("fp8_input_store"))),

        ["quick_gelu"] = r => r.Check("out", MoeUtils.QuickGelu(r["y"], r.Scalar("alpha", 1.702))),
        ["quick_gelu_alpha"] = r => r.Check("out", MoeUtils.QuickGelu(r["y"], r.Scalar("alpha", 1.702))),
        ["quick_geglu"] = r => r.Check("out", MoeUtils.QuickGeglu(r["y"], r.Offset)),
        ["weighted_quick_geglu"] = r => r.Check("out", MoeUtils.WeightedQuickGeglu(r["y"], r["weights"], r.Offset)),
        ["quick_geglu_back"] = r => r.Check("out", MoeUtils.QuickGegluBack(r["g"], r["y"], r.Offset)),
        ["weighted_quick_geglu_back"] = r => r.CheckGrads(MoeUtils.WeightedQuickGegluBack(r["g"], r["y"], r["weights"], r.Offset)),
        ["weighted_bias_quick_geglu"] = r => r.Check("out", MoeUtils.WeightedBiasQuickGeglu(r["y"], r["bias"], r["weights"], r.Offset)),
        ["weighted_bias_quick_geglu_back"] = r =>
        {
            var (inputGrad, biasGrad, weightsGrad) = MoeUtils.WeightedBiasQuickGegluBack(r["g"], r["y"], r["bias"], r["weights"], r.Offset);
            r.Check("input_grad", inputGrad);
            r.Check("weights_grad", weightsGrad);
            // The reference returns the un-reduced [N, 2H] input gradient as the bias gradient; ours is its sum over rows.
            var unreduced = r.Expected("bias_grad");
            r.Check("bias_grad", biasGrad, expected: unreduced.to(ScalarType.Float32).sum(new long[] { 0 }).to(unreduced.dtype));
        },
        ["weighted_bias_quick_geglu_impl"] = r => r.RunImpl((input, bias, weights) =>
            MoeUtils.WeightedBiasQuickGegluImpl(input, bias, weights, r.Flag("fp8_input_store"), r.Offset,
                r.OptionalScalar("clamp_value"), r.Scalar("alpha", 1.702))),
    };

    /// <summary>Golden functions run elsewhere: the aux-loss scaler (AuxLossAutoScalerTests).</summary>
    private static readonly string[] CoveredElsewhere = ["aux_loss_autoscaler"];

    public static TheoryData<string> ActivationCases() => CasesWhere(Runners.ContainsKey);

    public static TheoryData<string> PermuteCases() => CasesWhere(f => f.StartsWith("permute", StringComparison.Ordinal));

    public static TheoryData<string> UnpermuteCases() => CasesWhere(f => f.StartsWith("unpermute", StringComparison.Ordinal));

    /// <remarks>
    /// fp32 cases must match the reference within DESIGN.md's fp32 tolerance. In bf16 the eager reference rounds
    /// after every operation and MoeOpGen once, and the reference's accumulated rounding alone exceeds the bf16
    /// tolerance at some elements (e.g. <c>1 + tanh k</c> rounding to 0 makes a gradient 0 where the exact value is
    /// −0.03). So a bf16 element passes when it is within tolerance of the reference, or at least as close to the
    /// exact value as the reference is; and every bf16 element must be within tolerance of the exact value, computed
    /// by the same facade call on fp64 copies of the inputs on the CPU (whose maths the fp32 cases pin to the
    /// reference; the CUDA kernels have no fp64 instantiation).
    /// </remarks>
    [Theory, MemberData(nameof(ActivationCases), MemberType = typeof(MoeUtilsGoldenTests))]
    public void Activation_case_matches_the_reference(string caseName)
    {
        RequireDevice();
        var goldenCase = GoldenCases.Load(caseName);
        using var scope = NewDisposeScope();
        var run = new GoldenRun(goldenCase, Device, inFp64: false);
        Runners[goldenCase.Function](run);
        Assert.NotEmpty(run.Results);

        GoldenRun? exact = null;
        if (run.IsBf16)
        {
            exact = new GoldenRun(GoldenCases.Load(caseName), CPU, inFp64: true);
            Runners[goldenCase.Function](exact);
        }
        foreach (var (name, actual) in run.Results)
        {
            var expected = run.Expected(name);
            var tolerance = run.ToleranceFor(name);
            if (exact is null) tolerance.AssertClose(expected, actual, $"{caseName} {name}");
            else tolerance.AssertCloseOrCloserToExact(expected, actual, exact.Results[name], $"{caseName} {name}");
        }
    }

    /// <summary>Permuting is a copy, so the rows and probs must be exact, on both paths; the fused row map must lay
    /// the rows out as the reference's token ids do.</summary>
    [Theory, MemberData(nameof(PermuteCases), MemberType = typeof(MoeUtilsGoldenTests))]
    public void Permute_case_matches_the_reference(string caseName)
    {
        RequireDevice();
        var c = GoldenCases.Load(caseName);
        using var scope = NewDisposeScope();
        var tokens = c["tokens"].to(Device);
        var routingMap = c["routing_map"].to(Device);
        var probs = c.Has("probs") ? c["probs"].to(Device) : null;
        long? numOutTokens = c.HasScalar("num_out_tokens") ? c.Long("num_out_tokens") : null;
        bool dropAndPad = c.Function == "permute_drop_and_pad";

        var (permuted, permutedProbs, sortedIndices) = MoeUtils.Permute(tokens, routingMap, probs, numOutTokens, fused: false, dropAndPad);
        Assert.Equal(Device.type, permuted.device_type);
        TensorAssert.Equal(c["sorted_indices"], sortedIndices, "sorted_indices");
        TensorAssert.Equal(c["permuted"], permuted, "permuted");
        if (probs is null) Assert.Null(permutedProbs);
        else TensorAssert.Equal(c["permuted_probs"], permutedProbs!, "permuted_probs");

        var (fusedPermuted, fusedProbs, rowMap) = MoeUtils.Permute(tokens, routingMap, probs, numOutTokens, fused: true, dropAndPad);
        Assert.Equal(Device.type, fusedPermuted.device_type);
        TensorAssert.Equal(c["permuted"], fusedPermuted, "fused permuted");
        if (probs is null) Assert.Null(fusedProbs);
        else TensorAssert.Equal(c["permuted_probs"], fusedProbs!, "fused permuted_probs");
        Assert.Equal(c["sorted_indices"].data<long>().ToArray(), RoutingTestData.TokenIdsOf(rowMap, permuted.shape[0]));
    }

    /// <summary>Both paths within the dtype's tolerance of the reference (which sums in another order and, without
    /// fp32 probs, in the tokens' dtype).</summary>
    [Theory, MemberData(nameof(UnpermuteCases), MemberType = typeof(MoeUtilsGoldenTests))]
    public void Unpermute_case_matches_the_reference(string caseName)
    {
        RequireDevice();
        var c = GoldenCases.Load(caseName);
        using var scope = NewDisposeScope();
        var restoreShape = c.LongArray("restore_shape");
        var permuted = c["permuted"].to(Device);
        var sortedIndices = c["sorted_indices"];
        var probs = c.Has("probs") ? c["probs"].to(Device) : null;
        var routingMap = c.Has("routing_map") ? c["routing_map"].to(Device) : null;
        bool dropAndPad = c.Function == "unpermute_drop_and_pad";

        var output = MoeUtils.Unpermute(permuted, sortedIndices.to(Device), restoreShape, probs, routingMap, fused: false, dropAndPad);
        Assert.Equal(Device.type, output.device_type);
        TensorAssert.Close(c["out"], output, "non-fused unpermute");

        // The fused path needs its row map: from the routing map when the case has one (checking that it lays the
        // rows out as the reference did), else from the token ids (enough without probs).
        Tensor rowMap;
        if (routingMap is not null)
        {
            var placeholderTokens = zeros(new[] { restoreShape[0], 1L }, device: Device);
            long? numOutTokens = dropAndPad ? sortedIndices.numel() : null;
            rowMap = MoeUtils.Permute(placeholderTokens, routingMap, numOutTokens: numOutTokens, fused: true, dropAndPad: dropAndPad).SortedIndices;
            Assert.Equal(sortedIndices.data<long>().ToArray(), RoutingTestData.TokenIdsOf(rowMap, sortedIndices.numel()));
        }
        else
        {
            rowMap = RoutingTestData.RowMapFromTokenIds(sortedIndices, restoreShape[0]).to(Device);
        }
        var fusedOutput = MoeUtils.Unpermute(permuted, rowMap, restoreShape, probs, fused: true);
        Assert.Equal(Device.type, fusedOutput.device_type);
        TensorAssert.Close(c["out"], fusedOutput, "fused unpermute");
    }

    /// <summary>Whether a golden function is run by this body or elsewhere (a function with no runner would drop out
    /// of the theories unnoticed).</summary>
    internal static bool IsCovered(string function)
        => Runners.ContainsKey(function) || function.StartsWith("permute", StringComparison.Ordinal)
           || function.StartsWith("unpermute", StringComparison.Ordinal) || CoveredElsewhere.Contains(function);

    /// <summary>Case names whose function satisfies <paramref name="selects"/>; with the golden data absent, the one
    /// marker row on which <see cref="GoldenCases.Load"/> skips.</summary>
    private static TheoryData<string> CasesWhere(Func<string, bool> selects)
    {
        if (GoldenCases.Directory is null) return new TheoryData<string>(GoldenCases.AbsentMarker);
        var names = GoldenCases.Names("").Where(n => selects(n[..n.IndexOf('/')])).ToArray();
        return names.Length > 0 ? new TheoryData<string>(names) : throw new InvalidOperationException("No golden case selected.");
    }

    /// <summary>
    /// One golden case being run: its input tensors (on the device, or as fp64 CPU copies for the exact values), its
    /// scalars, and the outputs computed, on the CPU, by golden tensor name.
    /// </summary>
    private sealed class GoldenRun(GoldenCase goldenCase, Device device, bool inFp64)
    {
        private readonly Dictionary<string, Tensor> _expectedOverrides = new();

        public Dictionary<string, Tensor> Results { get; } = new();

        public string Function => goldenCase.Function;

        public bool IsBf16 => goldenCase.Name.Contains("/bf16", StringComparison.Ordinal);

        public Tensor this[string tensorName]
            => inFp64 ? goldenCase[tensorName].to(ScalarType.Float64) : goldenCase[tensorName].to(device);

        public double Offset => Scalar("linear_offset", 0.0);

        public double Scalar(string name, double fallback) => goldenCase.HasScalar(name) ? goldenCase.Double(name) : fallback;

        /// <summary>Null when the scalar is absent or JSON null (the reference's <c>clamp_value=None</c>).</summary>
        public double? OptionalScalar(string name) => goldenCase.HasScalar(name) ? goldenCase.NullableDouble(name) : null;

        public bool Flag(string name) => goldenCase.HasScalar(name) && goldenCase.Bool(name);

        public Tensor Expected(string tensorName)
            => _expectedOverrides.TryGetValue(tensorName, out var e) ? e : goldenCase[tensorName];

        /// <summary>Forward outputs at the dtype's tolerance; gradients of fp8-store cases at the fp8 tolerance (their backward saw E4M3 inputs).</summary>
        public Tolerance ToleranceFor(string tensorName)
            => Flag("fp8_input_store") && tensorName.EndsWith("_grad", StringComparison.Ordinal) ? Tolerance.Fp8Store
                : IsBf16 ? Tolerance.Bf16 : Tolerance.Fp32;

        /// <summary>Records <paramref name="actual"/> as the value of the golden tensor <paramref name="tensorName"/>,
        /// or of <paramref name="expected"/> when given.</summary>
        public void Check(string tensorName, Tensor? actual, Tensor? expected = null)
        {
            Assert.True(actual is not null, $"{goldenCase.Name}: no {tensorName} was computed.");
            Assert.True(actual!.device_type == (inFp64 ? DeviceType.CPU : device.type),
                $"{goldenCase.Name}: {tensorName} is on {actual.device}, not on the inputs' device.");
            Results[tensorName] = actual.detach().cpu();
            if (expected is not null) _expectedOverrides[tensorName] = expected;
        }

        public void CheckGrads((Tensor InputGrad, Tensor WeightsGrad) grads)
        {
            Check("input_grad", grads.InputGrad);
            Check("weights_grad", grads.WeightsGrad);
        }

        /// <summary>The <c>*_impl</c> cases: forward with autograd, backward with <c>grad_output</c>, then every gradient.</summary>
        public void RunImpl(Func<Tensor, Tensor?, Tensor, Tensor> impl)
        {
            var input = this["input"].requires_grad_(true);
            var weights = this["weights"].requires_grad_(true);
            var bias = goldenCase.Has("bias") ? this["bias"].requires_grad_(true) : null;

            var output = impl(input, bias, weights);
            Check("out", output);
            output.backward([this["grad_output"]]);
            BackwardFailures.ThrowIfAny();

            Check("input_grad", input.grad);
            Check("weights_grad", weights.grad);
            if (bias is not null) Check("bias_grad", bias.grad);
        }
    }
}
