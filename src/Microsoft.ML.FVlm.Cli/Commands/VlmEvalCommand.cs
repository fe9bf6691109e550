using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.FVlm.Vlm;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm evaluate-vlm</c>: zero-shot crop and region classification of a frozen VLM through the C# path.</summary>
internal static class VlmEvalCommand
{
    public static Command Create()
    {
        var vlm = new Option<DirectoryInfo>("--vlm") { Description = "VLM folder (docs/vlm-contract.md)", Required = true };
        var data = new Option<FileSystemInfo>("--data")
        {
            Description = "a Shapes captions split folder (captions.json + captions/) or any COCO / LVIS JSON whose images have kind \"crop\" or are scenes",
            Required = true,
        };
        var json = new Option<FileInfo?>("--json") { Description = "also write the figures to this JSON file" };
        var command = new Command("evaluate-vlm", "Measure a frozen VLM: top-1 zero-shot classification of object crops and of ground-truth boxes in scenes (F-VLM's VLM-score path).")
        {
            vlm, data, json,
        };
        command.Aliases.Add("vlm-eval"); // the former name, for one release
        var scaling = new RegionScalingArguments("default: 1, F-VLM's single scale");
        scaling.AddTo(command);
        command.SetAction(parse =>
        {
            var regionScaling = scaling.Parse(parse) ?? RegionScaling.Single;
            var (annotationFile, imageFolder) = ResolveData(parse.GetValue(data)!);
            using var model = FrozenVlm.Load(parse.GetValue(vlm)!.FullName);
            int imageCount = Microsoft.ML.FVlm.Data.CocoJson.ReadDataset(annotationFile).Images.Count;
            VlmClassificationMetrics metrics = null!;
            var clock = Stopwatch.StartNew();
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("evaluate-vlm", maxValue: imageCount);
                    metrics = VlmClassificationEvaluator.Evaluate(model, annotationFile, imageFolder, new SynchronousProgress(done => task.Value = done), regionScaling);
                });
            var table = new Table().AddColumns("figure", "all", "novel", "count (all / novel)");
            table.AddRow("crop top-1", F(metrics.CropTop1All), F(metrics.CropTop1Novel), $"{metrics.Crops} / {metrics.NovelCrops}");
            table.AddRow("region top-1", F(metrics.RegionTop1All), F(metrics.RegionTop1Novel), $"{metrics.Regions} / {metrics.NovelRegions}");
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine($"{model.Manifest.Name}: {imageCount} images in {clock.Elapsed.TotalSeconds:F1} s; regions at {regionScaling}");
            if (parse.GetValue(json) is { } output)
            {
                var figures = new Dictionary<string, double>
                {
                    ["crop_top1_all"] = metrics.CropTop1All, ["crop_top1_novel"] = metrics.CropTop1Novel,
                    ["region_top1_all"] = metrics.RegionTop1All, ["region_top1_novel"] = metrics.RegionTop1Novel,
                };
                File.WriteAllText(output.FullName, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true,
                    NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            }
            return CliErrors.Success;
        });
        return command;
    }

    private static string F(double value) => double.IsNaN(value) ? "-" : value.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A folder means a Shapes captions split (captions.json, images relative to the folder); a file is used as it is.</summary>
    private static (string AnnotationFile, string ImageFolder) ResolveData(FileSystemInfo data)
    {
        if (data is FileInfo { Exists: true } file) return (file.FullName, file.DirectoryName!);
        string folder = data.FullName;
        string captions = Path.Combine(folder, "captions.json");
        if (File.Exists(captions)) return (captions, folder);
        throw new FileNotFoundException($"--data: expected a COCO / LVIS JSON file or a folder holding captions.json; '{folder}' is neither.", folder);
    }
}
