using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Training;
using Microsoft.ML.FVlm.Vlm;
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
            string folder = Path.Combine(Path.GetTempPath(), $"fvlm-bench-train-{Guid.NewGuid():N}");
            try
            {
                new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = imageCount, Seed = 7, ImageSize = imageSize }).Generate(folder);
                var dataset = CocoJson.ReadDataset(Path.Combine(folder, "train-base.json"));
                var baseIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray();
                var names = dataset.Categories.Where(c => c.Frequency != "r").OrderBy(c => c.Id).Select(c => c.Name).ToArray();
                var data = new MLContext(seed: 0).Data.LoadFromCocoDataset(dataset, folder, new CocoLoaderOptions { CategoryIds = baseIds });
                using var model = FrozenVlm.Load(parse.GetValue(vlm)!.FullName);
                int steps = epochCount * imageCount / batchSize;
                var table = new Table().AddColumns("feature cache", "steps", "seconds", "images/s", "cache hit rate");
                var rates = new Dictionary<bool, double>();
                foreach (bool cache in new[] { true, false })
                {
                    TorchSharp.torch.manual_seed(0);
                    using var head = DetectorFactory.Create(model.Manifest, new FVlmOptions().Architecture());
                    var settings = new TrainingSettings { ImageSize = imageSize, BatchSize = batchSize, Steps = steps, CacheFeatures = cache, AugmentationVariants = 1, WarmupSteps = 1 };
                    TrainingProgress? last = null;
                    var clock = Stopwatch.StartNew();
                    new DetectorTrainer(model, settings, new TrainingColumns()).Train(head, data, names, new Relay(p => last = p));
                    double seconds = clock.Elapsed.TotalSeconds;
                    rates[cache] = steps * batchSize / seconds;
                    table.AddRow(cache ? "on" : "off", steps.ToString(), seconds.ToString("F1"), rates[cache].ToString("F2"), (last?.CacheHitRate ?? 0).ToString("P0"));
                }
                AnsiConsole.Write(table);
                AnsiConsole.WriteLine($"training with / without cache: {rates[true] / rates[false]:F2}x ({imageCount} images x {epochCount} epochs, one fixed augmentation per image, {imageSize} px, batch {batchSize}, {model.Manifest.Name})");
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
            return CliErrors.Success;
        });
        return command;
    }

    private sealed class Relay(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
