namespace MoeOpGen.Generator;
internal static class Placeholder { }
