using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using TorchSharp;

namespace MoeOpGen.Tests.Golden;

/// <summary>
/// One case of the reference's golden data: its tensors (fresh copies, so a test may change them or set
/// <c>requires_grad</c>) and the non-tensor arguments of the reference call.
/// </summary>
public sealed class GoldenCase
{
    internal GoldenCase(string name, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, JsonElement> scalars)
    {
        Name = name;
        Tensors = tensors;
        Scalars = scalars;
    }

    /// <summary><c>&lt;function&gt;/&lt;tag&gt;</c>, e.g. <c>permute_drop_and_pad/f32_T16_E4_K2_H8</c>.</summary>
    public string Name { get; }

    /// <summary>The reference function or call variant: the part of <see cref="Name"/> before the slash.</summary>
    public string Function => Name[..Name.IndexOf('/')];

    /// <summary>The case's tensors by their short name (<c>tokens</c>, <c>out</c>, …).</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Tensors { get; }

    /// <summary>The call's non-tensor arguments as written in the manifest.</summary>
    public IReadOnlyDictionary<string, JsonElement> Scalars { get; }

    /// <summary>The tensor <paramref name="tensorName"/>; a clear failure if the case lacks it.</summary>
    public torch.Tensor this[string tensorName] => Tensors.TryGetValue(tensorName, out var tensor)
        ? tensor
        : throw new KeyNotFoundException($"Golden case {Name} has no tensor '{tensorName}' (it has {string.Join(", ", Tensors.Keys)}).");

    public bool Has(string tensorName) => Tensors.ContainsKey(tensorName);

    public bool HasScalar(string scalarName) => Scalars.ContainsKey(scalarName);

    public double Double(string scalarName) => Scalar(scalarName).GetDouble();

    /// <summary>A scalar that the manifest may hold as JSON null (e.g. <c>clamp_value</c>).</summary>
    public double? NullableDouble(string scalarName)
        => Scalar(scalarName).ValueKind == JsonValueKind.Null ? null : Scalar(scalarName).GetDouble();

    public long Long(string scalarName) => Scalar(scalarName).GetInt64();

    public bool Bool(string scalarName) => Scalar(scalarName).GetBoolean();

    public long[] LongArray(string scalarName) => Scalar(scalarName).EnumerateArray().Select(e => e.GetInt64()).ToArray();

    public override string ToString() => Name;

    private JsonElement Scalar(string scalarName) => Scalars.TryGetValue(scalarName, out var value)
        ? value
        : throw new KeyNotFoundException($"Golden case {Name} has no scalar '{scalarName}' (it has {string.Join(", ", Scalars.Keys)}).");
}
