using System.CommandLine;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>Every verb of the tool, in the order <c>--help</c> lists them.</summary>
internal static class CommandList
{
    public static IEnumerable<Command> All()
    {
        yield return ShapesCommand.Create();
        yield return TokenizeCommand.Create();
        yield return BenchShapesCommand.Create();
    }
}
