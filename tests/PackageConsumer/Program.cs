using System;
using System.Linq;
using MoeOpGen.Ops;
using PackageConsumer;
using TorchSharp;
using static TorchSharp.torch;

// Checks, from the package alone: the generated operator's autograd gradients (input and token weights) against
// central finite differences of its forward, in fp64; and that the shipped operators and MoeUtils are there.
// Prints one line per failure and exits 1 if any.
const float Beta = 0.8f;
const double Step = 1e-6, Tolerance = 1e-7;
int failures = 0;
random.manual_seed(7);

var input = randn(3, 8, dtype: float64).requires_grad_();   // [tokens, 2H] with H = 4
var weights = rand(3, 1, dtype: float64).requires_grad_();  // token-wise weights [tokens, 1]
var probe = randn(3, 4, dtype: float64);                    // L = Σ probe · MishGlu(input, weights)

double Loss(Tensor x, Tensor w)
{
    using var noGrad = no_grad();
    return (MishGlu.Apply(x, w, beta: Beta) * probe).sum().item<double>();
}

(MishGlu.Apply(input, weights, beta: Beta) * probe).sum().backward();
failures += CheckAgainstFiniteDifferences("input", input, input.grad!, x => Loss(x, weights.detach()));
failures += CheckAgainstFiniteDifferences("weights", weights, weights.grad!, w => Loss(input.detach(), w));

// The shipped operators and the routing facade come with the same package reference.
using (var noGrad = no_grad())
{
    var tokens = randn(4, 6);
    var routingMap = tensor(new[] { true, false, false, true, true, true, false, true }, 4, 2);
    var (permuted, _, sortedIndices) = MoeUtils.Permute(tokens, routingMap);
    var copies = routingMap.sum(1, keepdim: true).to(float32);
    var restored = MoeUtils.Unpermute(permuted, sortedIndices, new long[] { 4, 6 }) / copies;
    if (!restored.allclose(tokens, rtol: 1e-6, atol: 1e-6)) { Console.Error.WriteLine("MoeUtils: unpermute(permute(x)) / copies != x"); failures++; }
    var swiGlu = SwiGlu.Apply(tokens);
    var expected = nn.functional.silu(tokens[.., ..3]) * tokens[.., 3..];
    if (!swiGlu.allclose(expected, rtol: 1e-5, atol: 1e-6)) { Console.Error.WriteLine("SwiGlu.Apply != silu(gate) · linear"); failures++; }
}

Console.WriteLine(failures == 0
    ? "OK: MishGlu gradients match finite differences; SwiGlu and MoeUtils work from the package."
    : $"FAILED: {failures} mismatches.");
return failures == 0 ? 0 : 1;

// Central differences of loss at each element of parameter, against the autograd gradient:
// |fd − grad| ≤ Tolerance · max(1, |fd|). Prints each mismatch; returns their count.
static int CheckAgainstFiniteDifferences(string name, Tensor parameter, Tensor gradient, Func<Tensor, double> loss)
{
    var point = parameter.detach().clone();
    var flat = point.view(-1);
    var analytic = gradient.detach().reshape(-1).data<double>().ToArray();
    int mismatches = 0;
    for (int i = 0; i < analytic.Length; i++)
    {
        double original = flat[i].item<double>();
        flat[i] = original + Step;
        double plus = loss(point);
        flat[i] = original - Step;
        double minus = loss(point);
        flat[i] = original;
        double numeric = (plus - minus) / (2 * Step);
        if (Math.Abs(numeric - analytic[i]) > Tolerance * Math.Max(1.0, Math.Abs(numeric)))
        {
            Console.Error.WriteLine($"d L / d {name}[{i}]: finite differences {numeric:R}, autograd {analytic[i]:R}");
            mismatches++;
        }
    }
    Console.WriteLine($"{name}: {analytic.Length} gradient entries checked, {mismatches} mismatches");
    return mismatches;
}
