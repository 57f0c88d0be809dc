using System;
using System.Collections.Generic;
using System.Linq;
using MoeOpGen.Engines;
using Xunit;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Numerics;

/// <summary>
/// A failure inside backward must not kill the process (TorchSharp notes B4): it is recorded and rethrown by
/// BackwardFailures.ThrowIfAny. The realistic trigger is the classic autograd misuse of modifying a saved input in
/// place between forward and backward: libtorch's version check throws when backward unpacks the saved tensor.
/// </summary>
[Collection(nameof(BackwardFailureTests))]   // BackwardFailures is process-wide state
public class BackwardFailureTests
{
    [Theory]
    [MemberData(nameof(Variants.GatedNames), MemberType = typeof(Variants))]
    public void InPlaceChangeOfASavedInputIsReportedNotFatal(string name)
    {
        var op = OperatorCases.GatedByName(name);
        using var scope = NewDisposeScope();
        var leaf = randn(5, 8).requires_grad_(true);
        var input = leaf * 1;                        // non-leaf, so an in-place change is allowed and bumps its version
        var y = op.Apply(input, null, null, null, false, GateLayout.Halves);
        using (no_grad()) input.add_(1);
        y.sum().backward();                          // would abort the process if the exception escaped backward
        var ex = Assert.ThrowsAny<Exception>(BackwardFailures.ThrowIfAny);
        Assert.Contains("inplace", ex.Message.Replace("-", "").Replace(" ", ""), StringComparison.OrdinalIgnoreCase);
        BackwardFailures.ThrowIfAny();               // reported once

        var x = randn(5, 8).requires_grad_(true);    // and the operator still works afterwards
        op.Apply(x, null, null, null, false, GateLayout.Halves).sum().backward();
        BackwardFailures.ThrowIfAny();
        Assert.NotNull(x.grad);
    }

    [Fact]
    public void UnaryInPlaceChangeOfASavedInputIsReportedNotFatal()
    {
        var op = OperatorCases.UnaryByName("Silu");
        using var scope = NewDisposeScope();
        var leaf = randn(5, 8).requires_grad_(true);
        var input = leaf * 1;
        var y = op.Apply(input);
        using (no_grad()) input.add_(1);
        y.sum().backward();
        Assert.ThrowsAny<Exception>(BackwardFailures.ThrowIfAny);
    }
}

/// <summary>Runs alone: a pending failure would otherwise surface in whichever test calls an operator next.</summary>
[CollectionDefinition(nameof(BackwardFailureTests), DisableParallelization = true)]
public sealed class BackwardFailureCollection;
