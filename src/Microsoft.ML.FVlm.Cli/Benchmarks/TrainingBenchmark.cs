using System.Diagnostics;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Training;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>One training run of <see cref="TrainingBenchmark.Run"/>.</summary>
internal sealed record TrainingRun(bool Cache, int Steps, int BatchSize, double Seconds, double CacheHitRate)
{
    public double ImagesPerSecond => Steps * BatchSize / Seconds;
}

/// <summary>Both runs, with the feature cache and without, on the same images, steps and head.</summary>
internal sealed record TrainingResult(TrainingRun WithCache, TrainingRun WithoutCache, int Images, int Epochs, int ImageSize, string Vlm)
{
    public double Ratio => WithCache.ImagesPerSecond / WithoutCache.ImagesPerSecond;
}

/// <summary>
/// Training throughput with and without the frozen-feature cache, measured in one process on the same
/// rendered Shapes <c>train-base</c> images with one fixed augmentation per image, so that every epoch
/// after the first can hit the cache.
/// </summary>
internal static class TrainingBenchmark
{
    public static TrainingResult Run(DirectoryInfo vlmFolder, int imageCount, int epochs, int imageSize, int batchSize, IProgress<int>? progress = null)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-bench-train-{Guid.NewGuid():N}");
        try
        {
            new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = imageCount, Seed = 7, ImageSize = imageSize }).Generate(folder);
            var dataset = CocoJson.ReadDataset(Path.Combine(folder, "train-base.json"));
            var baseIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray();
            var names = dataset.Categories.Where(c => c.Frequency != "r").OrderBy(c => c.Id).Select(c => c.Name).ToArray();
            var data = new MLContext(seed: 0).Data.LoadFromCocoDataset(dataset, folder, new CocoLoaderOptions { CategoryIds = baseIds });
            using var model = FrozenVlm.Load(vlmFolder.FullName);
            int steps = StepsPerRun(imageCount, epochs, batchSize);
            var runs = new Dictionary<bool, TrainingRun>();
            int done = 0;
            // One untimed step first: JIT, ONNX Runtime's first run and TorchSharp's allocator would
            // otherwise all be charged to the first timed run.
            using (var warmUp = DetectorFactory.Create(model.Manifest, DetectorArchitecture.Default))
                new DetectorTrainer(model, TrainingSettings.Default with { ImageSize = imageSize, BatchSize = batchSize, Steps = 1, CacheFeatures = false, WarmupSteps = 1 },
                    new TrainingColumns()).Train(warmUp, data, names);
            foreach (bool cache in new[] { true, false })
            {
                TorchSharp.torch.manual_seed(0);
                using var head = DetectorFactory.Create(model.Manifest, DetectorArchitecture.Default);
                var settings = TrainingSettings.Default with { ImageSize = imageSize, BatchSize = batchSize, Steps = steps, CacheFeatures = cache, AugmentationVariants = 1, WarmupSteps = 1 };
                TrainingProgress? last = null;
                var clock = Stopwatch.StartNew();
                new DetectorTrainer(model, settings, new TrainingColumns()).Train(head, data, names, new Relay(p =>
                {
                    last = p;
                    progress?.Report(++done);
                }));
                runs[cache] = new TrainingRun(cache, steps, batchSize, clock.Elapsed.TotalSeconds, last?.CacheHitRate ?? 0);
            }
            return new TrainingResult(runs[true], runs[false], imageCount, epochs, imageSize, model.Manifest.Name);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Steps of both timed runs, for a progress bar.</summary>
    public static int TotalSteps(int imageCount, int epochs, int batchSize) => 2 * StepsPerRun(imageCount, epochs, batchSize);

    private static int StepsPerRun(int imageCount, int epochs, int batchSize) => Math.Max(1, epochs * imageCount / batchSize);

    private sealed class Relay(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
