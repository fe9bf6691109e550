using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Shapes;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-transform</c>: batch scoring through <c>Transform</c>, first a small then a large
/// number of rows in one process, printing throughput and the peak working set after each: lazy,
/// batched scoring keeps the second peak close to the first.
/// </summary>
internal static class BenchTransformCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip", Required = true };
        var small = new Option<int>("--small") { Description = "rows of the first pass", DefaultValueFactory = _ => 100 };
        var large = new Option<int>("--large") { Description = "rows of the second pass", DefaultValueFactory = _ => 2000 };
        var quick = new Option<bool>("--quick") { Description = "20 then 200 rows" };
        var command = new Command("bench-transform", "Batch scoring through Transform: images per second and peak working set after a small and a large pass.")
        {
            model, small, large, quick,
        };
        command.SetAction(parse =>
        {
            int first = parse.GetValue(quick) ? 20 : parse.GetValue(small), second = parse.GetValue(quick) ? 200 : parse.GetValue(large);
            var mlContext = new MLContext();
            using var transformer = ModelFile.Load(mlContext, parse.GetValue(model)!);
            string folder = Path.Combine(Path.GetTempPath(), $"fvlm-bench-transform-{Guid.NewGuid():N}");
            try
            {
                // 50 distinct scenes, repeated: every row is decoded and scored anew.
                new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 50, Seed = 11, ImageSize = 320 }).Generate(folder);
                var files = Directory.GetFiles(Path.Combine(folder, "val"), "*.png").Order().ToArray();
                var table = new Table().AddColumns("rows", "seconds", "images/s", "peak working set (MB)");
                var peaks = new List<double>();
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        foreach (int rows in new[] { first, second })
                        {
                            var task = context.AddTask($"{rows} rows", maxValue: rows);
                            var input = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => new Row { ImagePath = files[i % files.Length] }));
                            var images = mlContext.Transforms.LoadImages("Image", "", nameof(Row.ImagePath)).Fit(input).Transform(input);
                            var clock = Stopwatch.StartNew();
                            var scored = transformer.Transform(images);
                            long detections = 0;
                            using (var cursor = scored.GetRowCursor([scored.Schema["Score"]]))
                            {
                                var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
                                VBuffer<float> scores = default;
                                while (cursor.MoveNext())
                                {
                                    getter(ref scores);
                                    detections += scores.Length;
                                    task.Increment(1);
                                }
                            }
                            double seconds = clock.Elapsed.TotalSeconds;
                            using var process = Process.GetCurrentProcess();
                            peaks.Add(process.PeakWorkingSet64 / 1048576.0);
                            table.AddRow(rows.ToString(), seconds.ToString("F1"), (rows / seconds).ToString("F2"), peaks[^1].ToString("F0"));
                        }
                    });
                AnsiConsole.Write(table);
                AnsiConsole.WriteLine(FormattableString.Invariant($"peak working set after {second} rows / after {first} rows: {peaks[1] / peaks[0]:F2} (target: 1.2 or less)"));
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
            return CliErrors.Success;
        });
        return command;
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
    }
}
