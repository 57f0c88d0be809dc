using System;

namespace MoeOpGen;

/// <summary>
/// Marks a <c>float</c> parameter of <c>Forward</c> as a runtime scalar: it becomes a kernel argument and a
/// parameter of the generated <c>Apply</c> with the same default. Scalars are constants for differentiation.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false, AllowMultiple = false)]
public sealed class ScalarAttribute : Attribute
{
}
