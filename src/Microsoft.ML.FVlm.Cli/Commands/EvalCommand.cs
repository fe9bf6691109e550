using System.CommandLine;
using Microsoft.ML.FVlm.Cli.Benchmarks;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Inference;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm evaluate-model</c>: the open-vocabulary table of a saved model on a ground-truth set.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save", Required = true };
        var data = new Option<FileSystemInfo>("--data") { Description = "LVIS / COCO JSON with category frequencies, or a folder written by 'fvlm shapes' (uses val.json)", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "also write the figures as JSON" };
        var detections = new Option<DirectoryInfo?>("--detections") { Description = "also write each score source's detections as COCO results (detection.json, vlm.json, fused.json) to this folder, for 'fvlm evaluate-results' or pycocotools" };
        var fusion = new Option<string?>("--fusion")
        {
            Description = "comma-separated fusion methods, each its own fused row from one forward pass: renormalised or unnormalised, then -proposals or -refined "
                + "(the boxes the VLM scores), optionally -objectness<weight>; or 'all' for the four without objectness (default: the model's own, as the row 'fused')",
        };
        var command = new Command("evaluate-model", "Box and mask AP of a model on novel, base and all categories, for detection-only, VLM-only and fused scores (LVIS protocol).")
        {
            model, data, json, detections, fusion,
        };
        command.Aliases.Add("eval"); // the former name, for one release
        var scaling = new RegionScalingArguments("default: the model's own");
        scaling.AddTo(command);
        command.SetAction(parse =>
        {
            var regionScaling = scaling.Parse(parse);
            var fusionMethods = ParseFusion(parse.GetValue(fusion));
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
                    var task = context.AddTask("evaluate-model", maxValue: groundTruth.Images.Count);
                    table = OpenVocabularyEvaluator.Evaluate(transformer, groundTruth, images, progress: new SynchronousProgress(done => task.Value = done),
                        regionScaling: regionScaling, fusionMethods: fusionMethods,
                        sourceResults: detectionsFolder is null ? null
                            : (source, results) => CocoJson.WriteResults(results, Path.Combine(detectionsFolder.FullName, source + ".json")));
                });
            AnsiConsole.WriteLine($"VLM regions at {regionScaling ?? transformer.RegionScaling}; the model's fusion: {transformer.InferenceSettings.Fusion}");
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

    /// <summary>The methods of <c>--fusion</c>, or null without it.</summary>
    /// <exception cref="ArgumentException">A method is not a fusion method's name; the message names the option.</exception>
    internal static IReadOnlyList<FusionMethod>? ParseFusion(string? text)
    {
        if (text is null) return null;
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return FusionMethod.All;
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException("--fusion: no method given (expected e.g. renormalised-proposals,unnormalised-refined, or all).");
        try
        {
            var methods = parts.Select(FusionMethod.Parse).ToArray();
            if (methods.Select(m => m.Name).Distinct().Count() != methods.Length)
                throw new ArgumentException($"--fusion: a method is named twice in '{text}'.");
            return methods;
        }
        catch (FormatException e)
        {
            throw new ArgumentException("--fusion: " + e.Message, e);
        }
    }

    /// <summary>An AP figure as printed (three decimals; "-" where the group has no category).</summary>
    internal static string F(double value) => value < 0 ? "-" : value.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
}
