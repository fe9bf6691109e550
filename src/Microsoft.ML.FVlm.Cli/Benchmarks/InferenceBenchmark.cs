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

/// <summary>What <see cref="InferenceBenchmark.Run"/> measured: the stages of the first batch size's pass, and every pass's throughput.</summary>
internal sealed record InferenceResult(InferenceTimings Stages, IReadOnlyList<BatchThroughput> Throughput, int ImageSize, int Classes, string Description)
{
    public double TotalOverTower => Stages.Total.TotalMilliseconds / Stages[InferenceStage.ImageTower].TotalMilliseconds;

    public double MillisecondsPerImage(InferenceStage stage) => Stages[stage].TotalMilliseconds / Stages.Images;

    public double TotalMillisecondsPerImage => Stages.Total.TotalMilliseconds / Stages.Images;
}

/// <summary>
/// Detects freshly rendered Shapes scenes (at the detector's canvas size) once per batch size, after
/// one warm-up image (text embeddings, ONNX Runtime's first run, TorchSharp's allocator).
/// </summary>
internal static class InferenceBenchmark
{
    public static InferenceResult Run(BenchDetector detector, int imageCount, IReadOnlyList<int> batchSizes, IProgress<int>? progress = null)
    {
        string scenes = Path.Combine(Path.GetTempPath(), $"fvlm-bench-inference-{Guid.NewGuid():N}");
        try
        {
            new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = imageCount, Seed = 13, ImageSize = detector.ImageSize }).Generate(scenes);
            var files = Directory.GetFiles(Path.Combine(scenes, "val"), "*.png").Order().ToArray();
            using (var first = MLImage.CreateFromFile(files[0])) detector.Detect([first], null);

            var throughput = new List<BatchThroughput>();
            InferenceTimings? stages = null;
            int done = 0;
            foreach (int batchSize in batchSizes)
            {
                var timings = new InferenceTimings();
                long allocated = GC.GetTotalAllocatedBytes(precise: true);
                var clock = Stopwatch.StartNew();
                foreach (var chunk in files.Chunk(batchSize))
                {
                    var batch = chunk.Select(MLImage.CreateFromFile).ToArray();
                    detector.Detect(batch, timings);
                    foreach (var image in batch) image.Dispose();
                    progress?.Report(done += batch.Length);
                }
                throughput.Add(new BatchThroughput(batchSize, files.Length, clock.Elapsed.TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - allocated));
                stages ??= timings;
            }
            return new InferenceResult(stages!, throughput, detector.ImageSize, detector.CurrentVocabulary.Names.Count, detector.Description);
        }
        finally
        {
            Directory.Delete(scenes, recursive: true);
        }
    }
}
