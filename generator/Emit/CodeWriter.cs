using System.Text;

namespace MoeOpGen.Generator.Emit;

/// <summary>A small indented text writer: generated code is read by people, so its indentation matters.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public CodeWriter Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
        return this;
    }

    /// <summary>Writes several lines (split on '\n') at the current indentation.</summary>
    public CodeWriter Lines(string text)
    {
        foreach (var line in text.Replace("\r", "").TrimEnd('\n').Split('\n')) Line(line);
        return this;
    }

    public CodeWriter Open(string line) { Line(line); Line("{"); _indent++; return this; }

    public CodeWriter Close(string suffix = "") { _indent--; Line("}" + suffix); return this; }

    public override string ToString() => _text.ToString();
}
