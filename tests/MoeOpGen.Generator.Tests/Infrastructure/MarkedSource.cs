using System;
using Microsoft.CodeAnalysis.Text;

namespace MoeOpGen.Generator.Tests.Infrastructure;

/// <summary>
/// Source text with one span marked <c>[|like this|]</c> (the Roslyn SDK testing convention): the place a
/// diagnostic is expected. <see cref="Text"/> is the source without the markers.
/// </summary>
internal sealed record MarkedSource(string Text, TextSpan Span)
{
    private const string Open = "[|", Close = "|]";

    public string SpanText => Text.Substring(Span.Start, Span.Length);

    public static MarkedSource Parse(string marked)
    {
        int start = marked.IndexOf(Open, StringComparison.Ordinal);
        int end = marked.IndexOf(Close, StringComparison.Ordinal);
        if (start < 0 || end < start || marked.IndexOf(Open, start + 1, StringComparison.Ordinal) >= 0)
            throw new ArgumentException("The source must mark exactly one span as [|…|].", nameof(marked));
        string text = marked.Remove(end, Close.Length).Remove(start, Open.Length);
        return new MarkedSource(text, TextSpan.FromBounds(start, end - Open.Length));
    }
}
