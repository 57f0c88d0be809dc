using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using MoeOpGen.Generator.Model;
using Xunit;

namespace MoeOpGen.Generator.Tests;

/// <summary>
/// A cached model that held a Roslyn object (symbol, syntax node, compilation) would keep old compilations alive
/// and defeat caching (it never compares equal across runs). These tests walk every type reachable from the
/// models' fields and check what Roslyn types appear.
/// </summary>
public sealed class ModelPurityTests
{
    private const string RoslynNamespace = "Microsoft.CodeAnalysis";

    [Fact]
    public void OperatorModel_reaches_no_Roslyn_type()
    {
        var roslyn = ReachableTypes(typeof(OperatorModel)).Where(IsRoslyn).ToList();

        Assert.Empty(roslyn);
    }

    [Fact]
    public void DiagnosticInfo_reaches_only_the_descriptor_and_position_types()
    {
        var roslyn = ReachableTypes(typeof(DiagnosticInfo)).Where(IsRoslyn).Select(t => t.FullName).Order().ToList();

        Assert.Equal(["Microsoft.CodeAnalysis.DiagnosticDescriptor", "Microsoft.CodeAnalysis.Text.LinePositionSpan", "Microsoft.CodeAnalysis.Text.TextSpan"], roslyn);
    }

    [Fact]
    public void The_walk_sees_through_generics_and_abstract_expression_nodes()
    {
        // Guards the walk itself: an Expr subclass reached only through the abstract base, and a type reached only
        // through a generic argument of EquatableArray<T>, must be found.
        var reached = ReachableTypes(typeof(OperatorModel)).Select(t => t.Name).ToHashSet();

        Assert.Contains("Cond", reached);
        Assert.Contains("ScalarParameter", reached);
    }

    private static bool IsRoslyn(Type type) => type.Namespace is { } ns && (ns == RoslynNamespace || ns.StartsWith(RoslynNamespace + ".", StringComparison.Ordinal));

    /// <summary>
    /// Types reachable through instance fields (auto-properties included: they are backing fields), generic
    /// arguments, array elements, and, for abstract or unsealed generator types, their subclasses in the generator.
    /// Roslyn and BCL types are reported but not entered, except for their generic arguments.
    /// </summary>
    private static HashSet<Type> ReachableTypes(Type root)
    {
        var generatorTypes = typeof(OperatorGenerator).Assembly.GetTypes();
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>([root]);
        while (pending.Count > 0)
        {
            var type = pending.Pop();
            if (type.IsGenericParameter || !seen.Add(type)) continue;
            if (type.HasElementType) pending.Push(type.GetElementType()!);
            if (type.IsGenericType) foreach (var argument in type.GetGenericArguments()) pending.Push(argument);
            if (type.Assembly != typeof(OperatorGenerator).Assembly) continue;
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)) pending.Push(field.FieldType);
            if (type.IsAbstract || !type.IsSealed)
                foreach (var derived in generatorTypes.Where(t => t != type && type.IsAssignableFrom(t))) pending.Push(derived);
        }
        return seen;
    }
}
