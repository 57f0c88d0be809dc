using System;
using CustomActivation;
using static TorchSharp.torch;

// 1. The generated scalar backward against central finite differences of the fp64 forward.
const float Beta = 1.5f;
const double Step = 1e-5, Tolerance = 1e-6;
int failures = 0;
foreach (double gate in new[] { -2.0, -0.3, 0.4, 1.7 })
foreach (double linear in new[] { -1.1, 0.6 })
{
    SoftplusGlu.BackwardF64(gate, linear, 1.0, Beta, out double dGate, out double dLinear);
    double fdGate = (SoftplusGlu.ForwardF64(gate + Step, linear, Beta) - SoftplusGlu.ForwardF64(gate - Step, linear, Beta)) / (2 * Step);
    double fdLinear = (SoftplusGlu.ForwardF64(gate, linear + Step, Beta) - SoftplusGlu.ForwardF64(gate, linear - Step, Beta)) / (2 * Step);
    SoftplusGlu.Backward((float)gate, (float)linear, 1f, Beta, out float dGate32, out float dLinear32);
    failures += Check($"dGate({gate}, {linear})", fdGate, dGate, Tolerance) + Check($"dLinear({gate}, {linear})", fdLinear, dLinear, Tolerance)
              + Check($"float dGate({gate}, {linear})", dGate, dGate32, 1e-5) + Check($"float dLinear({gate}, {linear})", dLinear, dLinear32, 1e-5);
}

// 2. The tensor operator: input [rows, 2H] (gate halves first), output [rows, H], gradients through autograd.
var input = tensor(new float[] { -2f, -0.3f, 0.4f, 1.7f, -1.1f, 0.6f, 0.6f, -1.1f }, 2, 4).requires_grad_();
var output = SoftplusGlu.Apply(input, beta: Beta);
output.sum().backward();
Console.WriteLine($"input  {input.ToString(TorchSharp.TensorStringStyle.Numpy)}");
Console.WriteLine($"output {output.ToString(TorchSharp.TensorStringStyle.Numpy)}");
Console.WriteLine($"d(sum output)/d input {input.grad!.ToString(TorchSharp.TensorStringStyle.Numpy)}");

// 3. The autograd gradient must be the scalar Backward, element by element.
var x = input.detach().data<float>().ToArray();
var g = input.grad!.data<float>().ToArray();
for (int row = 0; row < 2; row++)
for (int j = 0; j < 2; j++)
{
    float gate = x[row * 4 + j], linear = x[row * 4 + 2 + j];
    SoftplusGlu.Backward(gate, linear, 1f, Beta, out float dGate, out float dLinear);
    failures += Check($"autograd dGate[{row},{j}]", dGate, g[row * 4 + j], 1e-5) + Check($"autograd dLinear[{row},{j}]", dLinear, g[row * 4 + 2 + j], 1e-5);
}

Console.WriteLine(failures == 0 ? "OK: generated backward matches finite differences and autograd." : $"FAILED: {failures} mismatches.");
return failures == 0 ? 0 : 1;

// |expected − actual| ≤ tolerance · max(1, |expected|); prints and counts a mismatch.
static int Check(string what, double expected, double actual, double tolerance)
{
    if (Math.Abs(expected - actual) <= tolerance * Math.Max(1.0, Math.Abs(expected))) return 0;
    Console.Error.WriteLine($"{what}: expected {expected:R}, got {actual:R}");
    return 1;
}
