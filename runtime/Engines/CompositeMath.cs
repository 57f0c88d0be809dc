using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Engines;

/// <summary>
/// Tensor helpers the generated composite code calls where TorchSharp has no operator that mixes tensors and
/// scalars the way the maths does, keeping <see cref="OpMath"/>'s tie and NaN rules.
/// </summary>
public static class CompositeMath
{
#pragma warning disable CS1591 // one-line overloads of the same documented operation
    public static Tensor Where(Tensor condition, Tensor whenTrue, Tensor whenFalse) => torch.where(condition, whenTrue, whenFalse);
    public static Tensor Where(Tensor condition, Tensor whenTrue, float whenFalse) => torch.where(condition, whenTrue, torch.full_like(whenTrue, whenFalse));
    public static Tensor Where(Tensor condition, float whenTrue, Tensor whenFalse) => torch.where(condition, torch.full_like(whenFalse, whenTrue), whenFalse);
    public static Tensor Where(Tensor condition, float whenTrue, float whenFalse)
        => torch.where(condition, torch.tensor(whenTrue, device: condition.device), torch.tensor(whenFalse, device: condition.device));
    // A ?: whose comparison reads only scalars picks one branch for the whole tensor (a new handle, never the argument itself).
    public static Tensor Where(bool condition, Tensor whenTrue, Tensor whenFalse) => condition ? whenTrue.alias() : whenFalse.alias();
    public static Tensor Where(bool condition, Tensor whenTrue, float whenFalse) => condition ? whenTrue.alias() : torch.full_like(whenTrue, whenFalse);
    public static Tensor Where(bool condition, float whenTrue, Tensor whenFalse) => condition ? torch.full_like(whenFalse, whenTrue) : whenFalse.alias();

    public static Tensor Less(Tensor a, Tensor b) => a.lt(b);
    public static Tensor Less(Tensor a, float b) => a.lt(b);
    public static Tensor Less(float a, Tensor b) => b.gt(a);
    public static Tensor LessOrEqual(Tensor a, Tensor b) => a.le(b);
    public static Tensor LessOrEqual(Tensor a, float b) => a.le(b);
    public static Tensor LessOrEqual(float a, Tensor b) => b.ge(a);
    public static Tensor Greater(Tensor a, Tensor b) => a.gt(b);
    public static Tensor Greater(Tensor a, float b) => a.gt(b);
    public static Tensor Greater(float a, Tensor b) => b.lt(a);
    public static Tensor GreaterOrEqual(Tensor a, Tensor b) => a.ge(b);
    public static Tensor GreaterOrEqual(Tensor a, float b) => a.ge(b);
    public static Tensor GreaterOrEqual(float a, Tensor b) => b.le(a);

    // OpMath.Min(a, b) = b < a ? b : a; Max(a, b) = b > a ? b : a; Clamp(x, lo, hi) = x < lo ? lo : x > hi ? hi : x.
    public static Tensor Min(Tensor a, Tensor b) => Where(Less(b, a), b, a);
    public static Tensor Min(Tensor a, float b) => Where(Less(b, a), b, a);
    public static Tensor Min(float a, Tensor b) => Where(Less(b, a), b, a);
    public static Tensor Max(Tensor a, Tensor b) => Where(Greater(b, a), b, a);
    public static Tensor Max(Tensor a, float b) => Where(Greater(b, a), b, a);
    public static Tensor Max(float a, Tensor b) => Where(Greater(b, a), b, a);
    public static Tensor Clamp(Tensor x, float lo, float hi) => Where(Less(x, lo), lo, Where(Greater(x, hi), hi, x));
    public static Tensor Clamp(Tensor x, Tensor lo, Tensor hi) => Where(Less(x, lo), lo, Where(Greater(x, hi), hi, x));
    public static Tensor Clamp(Tensor x, Tensor lo, float hi) => Where(Less(x, lo), lo, Where(Greater(x, hi), hi, x));
    public static Tensor Clamp(Tensor x, float lo, Tensor hi) => Where(Less(x, lo), lo, Where(Greater(x, hi), hi, x));
    public static Tensor Clamp(float x, Tensor lo, Tensor hi) => Where(Less(x, lo), lo, Where(Greater(x, hi), hi, torch.full_like(lo, x)));
    public static Tensor Clamp(float x, Tensor lo, float hi) => Where(Less(x, lo), lo, x > hi ? hi : x);
    public static Tensor Clamp(float x, float lo, Tensor hi) => x < lo ? torch.full_like(hi, lo) : Where(Greater(x, hi), hi, x);
#pragma warning restore CS1591

    /// <summary>A constant result as a tensor shaped like <paramref name="like"/> (e.g. a zero derivative).</summary>
    public static Tensor Broadcast(float value, Tensor like) => torch.full_like(like, value);
}
