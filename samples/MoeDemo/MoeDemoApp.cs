using Spectre.Console;
using Spectre.Console.Cli;

namespace MoeDemo;

/// <summary>The command-line application: one default command, <see cref="TrainCommand"/>.</summary>
public static class MoeDemoApp
{
    /// <param name="console">Where to write (tests pass a recording console); the terminal when null.</param>
    public static CommandApp<TrainCommand> Create(IAnsiConsole? console = null)
    {
        var app = new CommandApp<TrainCommand>();
        app.Configure(config =>
        {
            config.SetApplicationName("MoeDemo");
            if (console is not null) config.ConfigureConsole(console);
            config.AddExample("--activation", "geglu", "--steps", "200");
            config.AddExample("--device", "cuda", "--activation", "quick-geglu", "--clamp", "7");
        });
        return app;
    }
}
