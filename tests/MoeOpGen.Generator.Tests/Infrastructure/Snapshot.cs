using System;
using System.IO;
using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;
using Xunit;

namespace MoeOpGen.Generator.Tests.Infrastructure;

/// <summary>
/// Approval testing with Verify's file conventions (Verify.Xunit is not served here, and this needs ~60 lines):
/// <c>Snapshots/&lt;name&gt;.verified.&lt;ext&gt;</c> in the test project's source folder is committed; a mismatch writes <c>&lt;name&gt;.received.&lt;ext&gt;</c>
/// beside it and fails with a unified-style diff. <c>MOEOPGEN_ACCEPT_SNAPSHOTS=1</c> overwrites the verified file.
/// </summary>
internal static class Snapshot
{
    public const string AcceptVariable = "MOEOPGEN_ACCEPT_SNAPSHOTS";

    /// <summary>Lines of unchanged context shown around each change in a failure message.</summary>
    private const int ContextLines = 3;

    public static void Match(string actual, string name, string extension = "cs")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(extension);
        string directory = Path.Combine(RepositoryPaths.TestProjectDirectory, "Snapshots");
        string verifiedPath = Path.Combine(directory, $"{name}.verified.{extension}");
        string receivedPath = Path.Combine(directory, $"{name}.received.{extension}");
        // Line endings are not part of what is verified (git may check files out either way).
        actual = Normalize(actual);

        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(verifiedPath, actual, new UTF8Encoding(false));
            File.Delete(receivedPath);
            return;
        }

        if (!File.Exists(verifiedPath))
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(receivedPath, actual, new UTF8Encoding(false));
            Assert.Fail($"No verified snapshot {verifiedPath}. Review {receivedPath} and rename it, or rerun with {AcceptVariable}=1.");
        }

        string verified = Normalize(File.ReadAllText(verifiedPath));
        if (verified == actual)
        {
            File.Delete(receivedPath);
            return;
        }
        File.WriteAllText(receivedPath, actual, new UTF8Encoding(false));
        Assert.Fail($"Snapshot {name}.{extension} differs (received written to {receivedPath}; accept with {AcceptVariable}=1):\n"
            + UnifiedDiff(verified, actual));
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    /// <summary>DiffPlex's line diff printed as '-'/'+'/' ' lines with a few lines of context and @@ markers at gaps.</summary>
    internal static string UnifiedDiff(string expected, string actual)
    {
        var lines = InlineDiffBuilder.Diff(expected, actual, ignoreWhiteSpace: false).Lines;
        var output = new StringBuilder().AppendLine("--- verified").AppendLine("+++ received");
        int lastPrinted = -1;
        for (int i = 0; i < lines.Count; i++)
        {
            bool nearChange = false;
            for (int j = Math.Max(0, i - ContextLines); j <= Math.Min(lines.Count - 1, i + ContextLines) && !nearChange; j++)
                nearChange = lines[j].Type != ChangeType.Unchanged;
            if (!nearChange) continue;
            if (i != lastPrinted + 1) output.AppendLine($"@@ line {lines[i].Position ?? i + 1} @@");
            char marker = lines[i].Type switch { ChangeType.Inserted => '+', ChangeType.Deleted => '-', _ => ' ' };
            output.Append(marker).AppendLine(lines[i].Text);
            lastPrinted = i;
        }
        return output.ToString();
    }
}
