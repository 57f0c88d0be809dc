using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>The fused CPU backward sums the weights and bias gradients in a fixed order: two runs are bit-identical.</summary>
public class DeterminismTests
{
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void FusedBackwardReductionsAreBitIdentical(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        foreach (var v in new[] { Variants.ByName("weighted+bias+clamp"), Variants.ByName("interleaved+weighted+bias+clamp") })
            foreach (var dtype in Variants.Dtypes)
                foreach (var rows in new[] { 64L, 1000L })   // 1000 rows: many chunks run in parallel
                {
                    var x = GatedInputs.Create(v, dtype, rows, hidden: 40, seed: 41);
                    var first = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Auto);
                    var second = op.Backward(x.UpstreamGrad, x.Input, x.Weights, x.Bias, v.Clamp, v.Layout, Engine.Auto);
                    string where = $"{name} {v.Name} {dtype} rows {rows}";
                    TensorAssert.BitEqual(first.InputGrad, second.InputGrad, $"{where} input grad");
                    TensorAssert.BitEqual(first.WeightsGrad!, second.WeightsGrad!, $"{where} weights grad");
                    TensorAssert.BitEqual(first.BiasGrad!, second.BiasGrad!, $"{where} bias grad");
                }
    }
}
