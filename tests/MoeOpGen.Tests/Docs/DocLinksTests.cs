using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace MoeOpGen.Tests.Docs;

/// <summary>The documentation holds together: every link between repository files resolves, and README links every
/// page of docs/. Skipped where the tests do not run from a checkout (GPU bundle).</summary>
public partial class DocLinksTests
{
    /// <summary>Absolute links that name a file of this repository (the package README and the diagnostics' help links use them).</summary>
    private const string RepositoryUrl = "https://github.com/moeopgen/moeopgen/blob/main/";

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    private static string? Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MoeOpGen.sln")) && Directory.Exists(Path.Combine(dir.FullName, "docs")))
                return dir.FullName;
        return null;
    }

    private static string RequireRoot()
    {
        string? root = Root();
        Assert.SkipWhen(root is null, "not run from a repository checkout");
        return root!;
    }

    private static IEnumerable<string> MarkdownFiles(string root)
        => new[] { "README.md", Path.Combine("pack", "README.md"), Path.Combine("runtime", "Cuda", "README.md") }
            .Select(f => Path.Combine(root, f))
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories));

    [Fact]
    public void Every_link_to_a_repository_file_resolves()
    {
        string root = RequireRoot();
        var broken = new List<string>();
        foreach (var file in MarkdownFiles(root))
            foreach (Match match in MarkdownLink().Matches(File.ReadAllText(file)))
            {
                string target = match.Groups[1].Value.Split('#')[0];
                string? path = target.StartsWith(RepositoryUrl, StringComparison.Ordinal)
                    ? Path.Combine(root, target[RepositoryUrl.Length..])
                    : target.Length == 0 || target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)
                        ? null
                        : Path.Combine(Path.GetDirectoryName(file)!, target);
                if (path is not null && !File.Exists(path) && !Directory.Exists(path))
                    broken.Add($"{Path.GetRelativePath(root, file)}: {match.Groups[1].Value}");
            }
        Assert.True(broken.Count == 0, "Broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void README_links_every_page_of_docs()
    {
        string root = RequireRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var pages = Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md")
            .Select(p => "docs/" + Path.GetFileName(p))
            .Append("docs/diagnostics/README.md");
        Assert.All(pages, page => Assert.Contains($"]({page})", readme));
    }
}
