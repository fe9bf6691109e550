using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-evaluate</c>: times COCO evaluation (bbox and segm) on a synthetic COCO-sized case
/// (5,000 images, 80 categories, 100 detections per image; <c>--quick</c>: 500 images).
/// </summary>
internal static class BenchEvaluateCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "500 images instead of 5,000" };
        var images = new Option<int?>("--images") { Description = "number of images (overrides --quick)" };
        var repeats = new Option<int>("--repeats") { Description = "timed runs per IoU type (the best is reported)", DefaultValueFactory = _ => 2 };
        var lvis = new Option<bool>("--lvis") { Description = "also time LVIS rules on the same case (all categories marked frequent)" };
        var command = new Command("bench-evaluate", "Time COCO evaluation on a synthetic COCO-sized case (bbox and segm).")
        {
            quick, images, repeats, lvis,
        };
        command.SetAction(parse => Run(parse.GetValue(images) ?? (parse.GetValue(quick) ? 500 : 5000), Math.Max(1, parse.GetValue(repeats)), parse.GetValue(lvis)));
        return command;
    }

    private static int Run(int imageCount, int repeats, bool lvis)
    {
        if (imageCount <= 0)
            throw new ArgumentException("--images must be positive.");
        var clock = Stopwatch.StartNew();
        var data = SyntheticDetectionCase.Create(imageCount, categories: 80, detectionsPerImage: 100, seed: 1);
        Console.WriteLine(Invariant($"case: {imageCount} images, 80 categories, {data.GroundTruth.Annotations.Count} objects, {data.Detections.Count} detections; generated in {clock.Elapsed.TotalSeconds:0.00} s; {Environment.ProcessorCount} cores"));

        var mlContext = new MLContext();
        var runs = new List<(string Name, DetectionEvaluationOptions Options)>
        {
            ("bbox", new DetectionEvaluationOptions { IouType = DetectionIouType.BoundingBox }),
            ("segm", new DetectionEvaluationOptions { IouType = DetectionIouType.Segmentation }),
        };
        if (lvis)
        {
            foreach (var category in data.GroundTruth.Categories)
                category.Frequency = "f";
            runs.Add(("bbox LVIS", new DetectionEvaluationOptions { IouType = DetectionIouType.BoundingBox, Protocol = DetectionEvaluationProtocol.Lvis }));
        }
        foreach (var (name, options) in runs)
        {
            double best = double.MaxValue, bestCpu = double.MaxValue;
            DetectionMetrics? metrics = null;
            var process = Process.GetCurrentProcess();
            for (int r = 0; r < repeats; r++)
            {
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                clock.Restart();
                metrics = mlContext.EvaluateDetections(data.Detections, data.GroundTruth, options);
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
                process.Refresh();
                bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
            }
            // CPU time is reported too: on a shared machine wall-clock time measures the neighbours as well.
            Console.WriteLine(Invariant($"{name,-10} wall {best,7:0.000} s, CPU {bestCpu,7:0.000} s (best of {repeats})   AP {metrics!.AveragePrecision:0.000}  AP50 {metrics.AveragePrecision50:0.000}  AR {metrics.AverageRecall:0.000}"));
        }
        return CliErrors.Success;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
