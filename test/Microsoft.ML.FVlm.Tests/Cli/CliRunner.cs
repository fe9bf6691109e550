using Microsoft.ML.FVlm.Cli;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>
/// Runs the fvlm tool in-process and returns its exit code with standard output and error, together or apart.
/// Spectre.Console's static console is bound to each run's writer: it would otherwise keep the
/// writer of the run that first used it, closed by then.
/// </summary>
internal static class CliRunner
{
    public static (int ExitCode, string Output) Run(params string[] args)
    {
        var (code, output, error) = RunApart(args);
        return (code, output + error);
    }

    /// <summary>Runs the tool with standard output and standard error kept apart.</summary>
    public static (int ExitCode, string Output, string Error) RunApart(params string[] args)
    {
        var (originalOut, originalError, originalConsole) = (Console.Out, Console.Error, AnsiConsole.Console);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });
        try
        {
            int code = Program.Main(args);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            AnsiConsole.Console = originalConsole;
        }
    }
}
