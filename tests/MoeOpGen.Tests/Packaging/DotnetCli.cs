using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CliWrap;

namespace MoeOpGen.Tests.Packaging;

/// <summary>The output of one <c>dotnet</c> command: its exit code and stdout + stderr interleaved.</summary>
public sealed record DotnetRun(string CommandLine, int ExitCode, string Log)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"$ {CommandLine}\n(exit code {ExitCode})\n{Log}";
}

/// <summary>Runs the .NET SDK's <c>dotnet</c> as a child process, the way a user would in a terminal.</summary>
internal static class DotnetCli
{
    /// <summary>Runs <c>dotnet &lt;arguments&gt;</c> in <paramref name="workingDirectory"/>; a run that outlives
    /// <paramref name="timeout"/> is killed (with its process tree) and reported with exit code -1.</summary>
    public static async Task<DotnetRun> RunAsync(string workingDirectory, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var log = new StringBuilder();
        var command = Cli.Wrap("dotnet")
            .WithArguments(arguments)
            .WithWorkingDirectory(workingDirectory)
            .WithEnvironmentVariables(CleanEnvironment)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => Append(log, line)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => Append(log, line)));
        string commandLine = "dotnet " + string.Join(' ', arguments);
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            var result = await command.ExecuteAsync(cancellation.Token);
            return new DotnetRun(commandLine, result.ExitCode, log.ToString());
        }
        catch (OperationCanceledException)
        {
            Append(log, $"[killed after {timeout.TotalSeconds:F0} s]");
            return new DotnetRun(commandLine, -1, log.ToString());
        }
    }

    /// <summary>Whether a .NET SDK (not just a runtime) is on the PATH: a GPU bundle runs these tests without one.</summary>
    public static async Task<bool> HasSdkAsync()
    {
        try
        {
            var run = await RunAsync(Environment.CurrentDirectory, ["--list-sdks"], TimeSpan.FromMinutes(1));
            return run.Succeeded && !string.IsNullOrWhiteSpace(run.Log);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;   // no dotnet executable on the PATH at all
        }
    }

    private static void Append(StringBuilder log, string line)
    {
        lock (log) log.AppendLine(line);
    }

    /// <summary>
    /// <c>dotnet test</c> hands its test host MSBuild's own variables (MSBuildExtensionsPath, MSBUILD_EXE_PATH,
    /// MSBuildSDKsPath, …); a nested build that inherits them can resolve the wrong SDK or targets. Unset them so
    /// the child behaves like a build started from a shell.
    /// </summary>
    private static void CleanEnvironment(CliWrap.Builders.EnvironmentVariablesBuilder variables)
    {
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>()
                     .Where(n => n.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)))
            variables.Set(name, null);
    }
}
