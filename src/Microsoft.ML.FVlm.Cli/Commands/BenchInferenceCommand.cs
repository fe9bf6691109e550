using System.CommandLine;
using Microsoft.ML.FVlm.Cli.Benchmarks;
using Microsoft.ML.FVlm.Inference;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-inference</c>: where inference time goes. Detects Shapes scenes with a trained
/// model, or with an untrained head on any frozen VLM (an exported CLIP at 1024 px), and prints the
/// time per image of each stage, the ratio of the total to the image tower, and throughput per
/// batch size.
/// </summary>
internal static class BenchInferenceCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo?>("--model") { Description = "model zip (its head, VLM and vocabulary)" };
        var vlm = new Option<DirectoryInfo?>("--vlm") { Description = "or: a frozen VLM folder, with an untrained head of the default architecture" };
        var size = new Option<int?>("--image-size") { Description = "canvas side in pixels (default: the model's, or 320)" };
        var images = new Option<int>("--images") { Description = "Shapes scenes to detect, rendered at the canvas size", DefaultValueFactory = _ => 16 };
        var classes = new Option<int?>("--classes") { Description = "vocabulary of this many synthetic class names instead of the model's (vocabulary scaling)" };
        var batches = new Option<string>("--batch-sizes") { Description = "comma-separated batch sizes; the stage table is of the first", DefaultValueFactory = _ => "1" };
        var quick = new Option<bool>("--quick") { Description = "4 images, batch size 1" };
        var path = new Option<string>("--path") { Description = "both (the default), graph (the detector's ONNX graph on ONNX Runtime, how the transformer detects) or torchsharp (the TorchSharp head between the VLM's sessions, split into stages)", DefaultValueFactory = _ => "both" };
        var command = new Command("bench-inference", "Inference latency per image on the detector's ONNX graph and on the TorchSharp path (split into stages: preprocessing, image tower, head, VLM region scoring, post-processing, masks), and throughput per batch size.")
        {
            model, vlm, size, images, classes, batches, quick, path,
        };
        command.SetAction(parse =>
        {
            var zip = parse.GetValue(model);
            var folder = parse.GetValue(vlm);
            if ((zip is null) == (folder is null)) throw new ArgumentException("Give exactly one of --model (a trained model zip) or --vlm (a frozen VLM folder, untrained head).");
            bool isQuick = parse.GetValue(quick);
            int imageCount = isQuick ? 4 : parse.GetValue(images);
            int[] batchSizes = isQuick ? [1] : ParseBatchSizes(parse.GetValue(batches)!);
            InferencePath[] paths = parse.GetValue(path)!.Trim().ToLowerInvariant() switch
            {
                "both" => [InferencePath.TorchSharp, InferencePath.Graph],
                "graph" => [InferencePath.Graph],
                "torchsharp" => [InferencePath.TorchSharp],
                var other => throw new ArgumentException($"--path: '{other}' is not a path; give both, graph or torchsharp."),
            };
            using var detector = zip is not null ? BenchDetector.FromModel(zip, parse.GetValue(size)) : BenchDetector.FromVlm(folder!, parse.GetValue(size) ?? 320);
            if (parse.GetValue(classes) is int count) detector.Use(BenchDetector.SyntheticVocabulary(count));

            IReadOnlyList<InferenceResult> results = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("detect", maxValue: paths.Length * imageCount * batchSizes.Length);
                    results = InferenceBenchmark.Run(detector, imageCount, batchSizes, paths, new SynchronousProgress(done => task.Value = done));
                });
            foreach (var result in results)
            {
                AnsiConsole.WriteLine($"{PathName(result.Path)}:");
                AnsiConsole.Write(StageTable(result.Stages));
                var throughput = new Table().AddColumns("batch size", "images", "seconds", "images/s", "managed MB / image");
                foreach (var pass in result.Throughput)
                    throughput.AddRow(pass.BatchSize.ToString(), pass.Images.ToString(), pass.Seconds.ToString("F2"), pass.ImagesPerSecond.ToString("F2"), pass.AllocatedMegabytesPerImage.ToString("F1"));
                AnsiConsole.Write(throughput);
            }
            var first = results[0];
            string setting = $"{first.Description}, {first.ImageSize} px, {first.Classes} classes, batch {batchSizes[0]}, {Environment.ProcessorCount} threads";
            if (results.Count == 2)
            {
                var both = InferencePaths.From(results);
                AnsiConsole.WriteLine($"ms / image: graph {both.Graph.TotalMillisecondsPerImage:F1}, TorchSharp {both.TorchSharp.TotalMillisecondsPerImage:F1}; the graph is {both.Speedup:F2}x as fast");
                AnsiConsole.WriteLine($"total / image tower: graph {both.Graph.TotalOverTower(both.TowerMilliseconds):F2}, TorchSharp {both.TorchSharp.TotalOverTower(both.TowerMilliseconds):F2} ({setting})");
            }
            else if (first.Path == InferencePath.TorchSharp)
            {
                AnsiConsole.WriteLine($"total / image tower: {first.TotalOverTower(first.MillisecondsPerImage(InferenceStage.ImageTower)):F2} ({setting})");
            }
            else
            {
                AnsiConsole.WriteLine($"ms / image: graph {first.TotalMillisecondsPerImage:F1} ({setting}; --path both gives total / image tower)");
            }
            return CliErrors.Success;
        });
        return command;
    }

    private static string PathName(InferencePath path) => path == InferencePath.Graph
        ? "the detector's ONNX graph on ONNX Runtime (preprocessing: reading the pixels; masks: pasting them)"
        : "the TorchSharp head between the VLM's sessions";

    private static Table StageTable(InferenceTimings timings)
    {
        var table = new Table().AddColumns("stage", "ms / image", "share");
        double total = timings.Total.TotalMilliseconds;
        foreach (var stage in Enum.GetValues<InferenceStage>())
        {
            double ms = timings[stage].TotalMilliseconds;
            table.AddRow(stage.ToString(), (ms / timings.Images).ToString("F1"), (ms / total).ToString("P0"));
        }
        table.AddRow("total", (total / timings.Images).ToString("F1"), "100 %");
        return table;
    }

    internal static int[] ParseBatchSizes(string text)
    {
        var sizes = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new ArgumentException($"--batch-sizes: '{t}' is not a positive integer.")).ToArray();
        return sizes.Length > 0 ? sizes : throw new ArgumentException("--batch-sizes: give at least one batch size.");
    }
}
