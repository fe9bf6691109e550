using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-shapes</c>: rendering throughput of the Shapes generator, PNG and JSON files included,
/// written to a temporary folder that is deleted afterwards. A warm-up split of 8 images runs first.
/// </summary>
internal static class BenchShapesCommand
{
    public static Command Create()
    {
        var images = new Option<int>("--images") { Description = "number of images to render", DefaultValueFactory = _ => 500 };
        var size = new Option<int>("--size") { Description = "image side in pixels", DefaultValueFactory = _ => 320 };
        var split = new Option<string>("--split") { Description = "train-base, train-all, val or captions", DefaultValueFactory = _ => "train-all" };
        var threads = new Option<int>("--threads") { Description = "rendering threads (-1: all cores)", DefaultValueFactory = _ => -1 };
        var command = new Command("bench-shapes", "Measure Shapes rendering throughput (images per second, PNG and JSON written).")
        {
            images, size, split, threads,
        };
        command.SetAction(parse =>
        {
            var options = ShapesCliOptions.Create(parse.GetValue(split)!, parse.GetValue(images), seed: 1, parse.GetValue(size), parse.GetValue(threads));
            string folder = Path.Combine(Path.GetTempPath(), "fvlm-bench-shapes-" + Environment.ProcessId);
            try
            {
                var warmUp = ShapesCliOptions.Create(parse.GetValue(split)!, 8, seed: 2, options.ImageSize, options.MaxDegreeOfParallelism);
                new ShapesGenerator(warmUp).Generate(folder);

                var clock = Stopwatch.StartNew();
                var result = new ShapesGenerator(options).Generate(folder);
                double seconds = clock.Elapsed.TotalSeconds;
                long bytes = Directory.EnumerateFiles(result.ImageFolder).Sum(f => new FileInfo(f).Length) + new FileInfo(result.AnnotationFile).Length;
                int cores = options.MaxDegreeOfParallelism == -1 ? Environment.ProcessorCount : options.MaxDegreeOfParallelism;
                Console.WriteLine(
                    $"bench-shapes: {result.ImageCount} images of {options.ImageSize} px ({options.Split.ToName()}), {result.AnnotationCount} annotations, " +
                    $"{cores} thread(s): {seconds:F2} s, {result.ImageCount / seconds:F1} images/s, {bytes / 1e6:F1} MB written");
            }
            finally
            {
                if (Directory.Exists(folder))
                    Directory.Delete(folder, recursive: true);
            }
            return CliErrors.Success;
        });
        return command;
    }
}
