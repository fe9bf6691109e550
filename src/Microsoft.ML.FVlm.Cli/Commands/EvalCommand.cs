using System.CommandLine;
using Microsoft.ML.FVlm.Cli.Benchmarks;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm eval</c>: the open-vocabulary table of a saved model on a ground-truth set.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save", Required = true };
        var data = new Option<FileSystemInfo>("--data") { Description = "LVIS / COCO JSON with category frequencies, or a folder written by 'fvlm shapes' (uses val.json)", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "also write the figures as JSON" };
        var detections = new Option<DirectoryInfo?>("--detections") { Description = "also write each score source's detections as COCO results (detection.json, vlm.json, fused.json) to this folder, for 'fvlm evaluate' or pycocotools" };
        var command = new Command("eval", "Box and mask AP of a model on novel, base and all categories, for detection-only, VLM-only and fused scores (LVIS protocol).")
        {
            model, data, json, detections,
        };
        var scaling = new RegionScalingArguments("default: the model's own");
        scaling.AddTo(command);
        command.SetAction(parse =>
        {
            var regionScaling = scaling.Parse(parse);
            var (file, images) = DatasetArgument.Resolve(parse.GetValue(data)!, "val");
            var groundTruth = DatasetArgument.Read(file);
            var mlContext = new MLContext();
            using var transformer = ModelFile.Load(mlContext, parse.GetValue(model)!);
            var detectionsFolder = parse.GetValue(detections);
            if (detectionsFolder is not null) Directory.CreateDirectory(detectionsFolder.FullName);
            IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> table = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("eval", maxValue: groundTruth.Images.Count);
                    table = OpenVocabularyEvaluator.Evaluate(transformer, groundTruth, images, progress: new SynchronousProgress(done => task.Value = done),
                        regionScaling: regionScaling,
                        sourceResults: detectionsFolder is null ? null
                            : (source, results) => CocoJson.WriteResults(results, Path.Combine(detectionsFolder.FullName, source + ".json")));
                });
            AnsiConsole.WriteLine($"VLM regions at {regionScaling ?? transformer.RegionScaling}");
            foreach (var (iouType, rows) in table)
            {
                var view = new Table().Title(iouType == "segm" ? "mask AP" : "box AP").AddColumns("scores", "novel", "base", "all", "APr", "APc", "APf");
                foreach (var (source, f) in rows)
                    view.AddRow(source, F(f.Novel), F(f.Base), F(f.All), F(f.Rare), F(f.Common), F(f.Frequent));
                AnsiConsole.Write(view);
            }
            if (parse.GetValue(json) is { } output)
                OpenVocabularyResult.Write(table, output.FullName);
            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>An AP figure as printed (three decimals; "-" where the group has no category).</summary>
    internal static string F(double value) => value < 0 ? "-" : value.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}
