using System.CommandLine;
using Microsoft.ML.FVlm.Cli.Commands;

namespace Microsoft.ML.FVlm.Cli;

/// <summary>The <c>fvlm</c> command-line tool: one verb per file in <c>Commands/</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("fvlm: open-vocabulary object detection and instance segmentation for ML.NET (F-VLM).");
        foreach (var command in CommandList.All())
            root.Subcommands.Add(command);
        // Exceptions reach CliErrors, which maps user errors to exit code 1 with a one-line message.
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Let System.CommandLine print the errors and the verb's help, but keep syntax errors apart from user errors.
            parsed.Invoke(invocation);
            return CliErrors.SyntaxError;
        }
        return CliErrors.Run(() => parsed.Invoke(invocation));
    }
}
