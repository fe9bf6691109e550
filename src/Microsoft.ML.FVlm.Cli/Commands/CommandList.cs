using System.CommandLine;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>Every verb of the tool, in the order <c>--help</c> lists them.</summary>
internal static class CommandList
{
    public static IEnumerable<Command> All()
    {
        yield return DemoCommand.Create();
        yield return ShapesCommand.Create();
        yield return TrainCommand.Create();
        yield return EvalCommand.Create();
        yield return PredictCommand.Create();
        yield return ExportCommand.Create();
        yield return UpgradeCommand.Create();
        yield return EmbedTextCommand.Create();
        yield return TokenizeCommand.Create();
        yield return VlmEvalCommand.Create();
        yield return EvaluateCommand.Create();
        yield return BenchCommand.Create();
        yield return BenchShapesCommand.Create();
        yield return BenchEvaluateCommand.Create();
        yield return BenchTrainCommand.Create();
        yield return BenchTransformCommand.Create();
        yield return BenchInferenceCommand.Create();
    }
}
