using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>Throughput of one batch size: images detected, the wall-clock time they took, and the managed memory allocated meanwhile (loading the images included).</summary>
internal sealed record BatchThroughput(int BatchSize, int Images, double Seconds, long AllocatedBytes)
{
    public double ImagesPerSecond => Images / Seconds;

    public double AllocatedMegabytesPerImage => AllocatedBytes / (1024.0 * 1024.0) / Images;
}

/// <summary>What <see cref="InferenceBenchmark.Run"/> measured on one path: the stages of the first batch size's pass, and every pass's throughput.</summary>
internal sealed record InferenceResult(InferencePath Path, InferenceTimings Stages, IReadOnlyList<BatchThroughput> Throughput, int ImageSize, int Classes, string Description)
{
    /// <summary>The total over the image tower's time: measured as a stage on the TorchSharp path; the graph runs the tower inside, so its total is divided by <paramref name="towerMilliseconds"/>, the TorchSharp path's.</summary>
    public double TotalOverTower(double towerMilliseconds) => TotalMillisecondsPerImage / towerMilliseconds;


    public double MillisecondsPerImage(InferenceStage stage) => Stages[stage].TotalMilliseconds / Stages.Images;

    public double TotalMillisecondsPerImage => Stages.Total.TotalMilliseconds / Stages.Images;
}

/// <summary>
/// Detects freshly rendered Shapes scenes (at the detector's canvas size) on each path, once per batch size, after
/// one warm-up image per path (text embeddings, building the graph, ONNX Runtime's first run, TorchSharp's allocator).
/// </summary>
internal static class InferenceBenchmark
{
    public static IReadOnlyList<InferenceResult> Run(BenchDetector detector, int imageCount, IReadOnlyList<int> batchSizes, IReadOnlyList<InferencePath> paths,
        IProgress<int>? progress = null)
    {
        string scenes = Path.Combine(Path.GetTempPath(), $"fvlm-bench-inference-{Guid.NewGuid():N}");
        try
        {
            new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = imageCount, Seed = 13, ImageSize = detector.ImageSize }).Generate(scenes);
            var files = Directory.GetFiles(Path.Combine(scenes, "val"), "*.png").Order().ToArray();
            var results = new List<InferenceResult>();
            int done = 0;
            foreach (var path in paths)
            {
                using (var first = MLImage.CreateFromFile(files[0])) detector.Detect([first], null, path);
                var throughput = new List<BatchThroughput>();
                InferenceTimings? stages = null;
                foreach (int batchSize in batchSizes)
                {
                    var timings = new InferenceTimings();
                    long allocated = GC.GetTotalAllocatedBytes(precise: true);
                    var clock = Stopwatch.StartNew();
                    foreach (var chunk in files.Chunk(batchSize))
                    {
                        var batch = chunk.Select(MLImage.CreateFromFile).ToArray();
                        detector.Detect(batch, timings, path);
                        foreach (var image in batch) image.Dispose();
                        progress?.Report(done += batch.Length);
                    }
                    throughput.Add(new BatchThroughput(batchSize, files.Length, clock.Elapsed.TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - allocated));
                    stages ??= timings;
                }
                results.Add(new InferenceResult(path, stages!, throughput, detector.ImageSize, detector.CurrentVocabulary.Names.Count, detector.Description));
            }
            return results;
        }
        finally
        {
            Directory.Delete(scenes, recursive: true);
        }
    }
}
