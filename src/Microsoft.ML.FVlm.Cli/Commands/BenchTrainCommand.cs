using System.CommandLine;
using Microsoft.ML.FVlm.Cli.Benchmarks;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-train</c>: training throughput with and without the frozen-feature cache, measured
/// in one run on the same Shapes images, steps and head, and their ratio.
/// </summary>
internal static class BenchTrainCommand
{
    public static Command Create()
    {
        var vlm = new Option<DirectoryInfo>("--vlm") { Description = "frozen VLM folder", Required = true };
        var images = new Option<int>("--images") { Description = "training images (rendered from the Shapes world)", DefaultValueFactory = _ => 32 };
        var epochs = new Option<int>("--epochs") { Description = "passes over the images per run", DefaultValueFactory = _ => 4 };
        var size = new Option<int>("--image-size") { Description = "canvas side in pixels", DefaultValueFactory = _ => 320 };
        var batch = new Option<int>("--batch-size") { Description = "images per step", DefaultValueFactory = _ => 8 };
        var quick = new Option<bool>("--quick") { Description = "16 images, 3 epochs, 160 px, batch 4" };
        var command = new Command("bench-train", "Training throughput (images per second) with and without the frozen-feature cache, and their ratio.")
        {
            vlm, images, epochs, size, batch, quick,
        };
        command.SetAction(parse =>
        {
            bool isQuick = parse.GetValue(quick);
            int imageCount = isQuick ? 16 : parse.GetValue(images), epochCount = isQuick ? 3 : parse.GetValue(epochs);
            int imageSize = isQuick ? 160 : parse.GetValue(size), batchSize = isQuick ? 4 : parse.GetValue(batch);
            TrainingResult result = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("train", maxValue: TrainingBenchmark.TotalSteps(imageCount, epochCount, batchSize));
                    result = TrainingBenchmark.Run(parse.GetValue(vlm)!, imageCount, epochCount, imageSize, batchSize, new SynchronousProgress(done => task.Value = done));
                });
            var table = new Table().AddColumns("feature cache", "steps", "seconds", "images/s", "cache hit rate");
            foreach (var run in new[] { result.WithCache, result.WithoutCache })
                table.AddRow(run.Cache ? "on" : "off", run.Steps.ToString(), run.Seconds.ToString("F1"), run.ImagesPerSecond.ToString("F2"), run.CacheHitRate.ToString("P0"));
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine($"training with / without cache: {result.Ratio:F2}x ({imageCount} images x {epochCount} epochs, one fixed augmentation per image, {imageSize} px, batch {batchSize}, {result.Vlm})");
            return CliErrors.Success;
        });
        return command;
    }
}
