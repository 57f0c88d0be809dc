using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace MoeOpGen.Tests.Cuda;

/// <summary>
/// Runs one test method of this test assembly in a second process (the xunit.v3 test program runs itself with
/// <c>-method</c>), with extra environment variables. The cross-process tests need a real second process, and the
/// test program is already built, self-contained in the GPU bundle, and starts in well under a second when filtered
/// to one method, so no helper executable is needed.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts <paramref name="method"/> (full name) in a child process; <paramref name="shellPrefix"/>, if
    /// given, is a bash command run first in the same process (e.g. <c>ulimit -f 1</c>), which then execs the test program.</summary>
    public static Process Start(string method, IReadOnlyDictionary<string, string> environment, string? shellPrefix = null)
    {
        var (program, arguments) = TestProgram();
        arguments.AddRange(["-method", method, "-noLogo", "-noColor"]);
        ProcessStartInfo info;
        if (shellPrefix is null)
        {
            info = new ProcessStartInfo(program);
            foreach (var a in arguments) info.ArgumentList.Add(a);
        }
        else
        {
            info = new ProcessStartInfo("/bin/bash");
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"{shellPrefix} && exec \"$0\" \"$@\"");
            info.ArgumentList.Add(program);
            foreach (var a in arguments) info.ArgumentList.Add(a);
        }
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("Could not start the child test process.");
    }

    /// <summary>The apphost of the test program, or <c>dotnet &lt;dll&gt;</c> when this process runs under dotnet.</summary>
    private static (string Program, List<string> Arguments) TestProgram()
    {
        string dll = typeof(ChildProcess).Assembly.Location;
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        if (Path.GetFileNameWithoutExtension(host) == Path.GetFileNameWithoutExtension(dll)) return (host, []);
        string apphost = Path.ChangeExtension(dll, OperatingSystem.IsWindows() ? ".exe" : null);
        return File.Exists(apphost) ? (apphost, []) : (host, [dll]);
    }

    /// <summary>Waits for the child and returns its exit code; its output is kept for failure messages.</summary>
    public static int WaitForExit(Process child, TimeSpan timeout, out string output)
    {
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(timeout))
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }
        output = stdout.Result + stderr.Result;
        return child.ExitCode;
    }

    /// <summary>Key=value lines (the child's report).</summary>
    public static Dictionary<string, string> ReadReport(string path)
        => File.ReadAllLines(path).Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
}
