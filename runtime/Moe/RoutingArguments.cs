using System;
using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>Argument checks shared by permute and unpermute: each failure names the offending argument.</summary>
internal static class RoutingArguments
{
    public static void Rank(Tensor tensor, int rank, string name, string expectedShape)
    {
        if (tensor.dim() != rank)
            throw new ArgumentException(
                $"{name} must be {rank}-D {expectedShape}, but has shape {Shape(tensor)}.", name);
    }

    public static void SameDevice(Tensor tensor, Tensor reference, string name, string referenceName)
    {
        if (tensor.device_type != reference.device_type || tensor.device_index != reference.device_index)
            throw new ArgumentException(
                $"{name} is on {tensor.device} but {referenceName} is on {reference.device}; move them to one device.", name);
    }

    public static void FloatingPoint(Tensor tensor, string name)
    {
        if (!RoutingPrecision.IsSupportedFloat(tensor.dtype))
            throw new ArgumentException(
                $"{name} must be float32, float64, float16 or bfloat16, but is {tensor.dtype}.", name);
    }

    /// <summary>A <c>[T, E]</c> bool or integer mask with at least one expert column, on the tokens' device.</summary>
    public static void RoutingMap(Tensor routingMap, long tokenCount, Tensor reference, string name, string referenceName)
    {
        Rank(routingMap, 2, name, "[tokens, experts]");
        if (!IsMaskDtype(routingMap.dtype))
            throw new ArgumentException(
                $"{name} must be a bool or integer mask, but is {routingMap.dtype}.", name);
        if (routingMap.shape[0] != tokenCount)
            throw new ArgumentException(
                $"{name} has {routingMap.shape[0]} token rows, but {referenceName} has {tokenCount} tokens.", name);
        if (routingMap.shape[1] < 1)
            throw new ArgumentException($"{name} must have at least one expert column.", name);
        SameDevice(routingMap, reference, name, referenceName);
    }

    /// <summary>Floating-point probs with the routing map's shape <c>[T, E]</c>, on the same device.</summary>
    public static void Probs(Tensor probs, long[] expectedShape, Tensor reference, string name, string shapeSource)
    {
        FloatingPoint(probs, name);
        if (probs.dim() != 2 || probs.shape[0] != expectedShape[0] || probs.shape[1] != expectedShape[1])
            throw new ArgumentException(
                $"{name} must have the shape of {shapeSource}, [{expectedShape[0]}, {expectedShape[1]}], but has shape {Shape(probs)}.", name);
        SameDevice(probs, reference, name, "the tokens");
    }

    /// <summary>A non-negative <c>numOutTokens</c>.</summary>
    public static void OutputTokenCount(long? numOutTokens, string name)
    {
        if (numOutTokens < 0)
            throw new ArgumentOutOfRangeException(name, numOutTokens, $"{name} must not be negative.");
    }

    public static string Shape(Tensor tensor) => "[" + string.Join(", ", tensor.shape) + "]";

    private static bool IsMaskDtype(ScalarType dtype) => dtype is ScalarType.Bool or ScalarType.Byte or ScalarType.Int8
        or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64;
}
