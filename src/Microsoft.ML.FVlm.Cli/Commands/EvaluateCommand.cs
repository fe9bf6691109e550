using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm evaluate-results</c>: COCO / LVIS AP of a results file against a ground-truth file, printed as pycocotools and
/// lvis-api print it, and optionally written as JSON <c>{"bbox"|"segm": {"AP": .., ...}}</c> (fractions in [0, 1]).
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var groundTruth = new Option<FileInfo>("--ground-truth") { Description = "COCO / LVIS annotation JSON (images need no file_name)", Required = true };
        var detections = new Option<FileInfo>("--detections") { Description = "COCO results JSON: [{image_id, category_id, bbox, score, segmentation?}]", Required = true };
        var iouType = new Option<string>("--iou-type") { Description = "bbox or segm", DefaultValueFactory = _ => "bbox" };
        iouType.AcceptOnlyFromAmong("bbox", "segm");
        var lvis = new Option<bool>("--lvis") { Description = "LVIS rules (lvis-api): 300 detections per image, federated labels, APr / APc / APf" };
        var novelIds = new Option<string?>("--novel-ids") { Description = "comma-separated category ids of the novel split: adds APnovel, APbase, AP50novel, AP50base" };
        var json = new Option<FileInfo?>("--json") { Description = "write the figures to this JSON file (other IoU types already in it are kept)" };
        var command = new Command("evaluate-results", "COCO / LVIS detection and segmentation AP, as pycocotools and lvis-api compute it.")
        {
            groundTruth, detections, iouType, lvis, novelIds, json,
        };
        command.Aliases.Add("evaluate"); // the former name, for one release
        command.SetAction(parse => Run(
            parse.GetValue(groundTruth)!, parse.GetValue(detections)!, parse.GetValue(iouType)!,
            parse.GetValue(lvis), parse.GetValue(novelIds), parse.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo groundTruthFile, FileInfo detectionsFile, string iouTypeName, bool lvis, string? novelIds, FileInfo? jsonFile)
    {
        var options = new DetectionEvaluationOptions
        {
            IouType = iouTypeName == "segm" ? DetectionIouType.Segmentation : DetectionIouType.BoundingBox,
            Protocol = lvis ? DetectionEvaluationProtocol.Lvis : DetectionEvaluationProtocol.Coco,
            NovelCategoryIds = novelIds is null ? null : ParseIds(novelIds),
        };
        var groundTruth = CocoJson.ReadDataset(groundTruthFile.FullName);
        var detections = CocoJson.ReadResults(detectionsFile.FullName);
        if (options.NovelCategoryIds is { } novel)
        {
            var known = groundTruth.Categories.Select(c => c.Id).ToHashSet();
            var unknown = novel.Where(id => !known.Contains(id)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"--novel-ids: {string.Join(", ", unknown)} not a category id of {groundTruthFile.Name}.");
        }

        var start = DateTime.UtcNow;
        var metrics = new MLContext().EvaluateDetections(detections, groundTruth, options);
        double seconds = (DateTime.UtcNow - start).TotalSeconds;

        Console.WriteLine($"Evaluate annotation type *{iouTypeName}* ({(lvis ? "LVIS" : "COCO")}): {detections.Count} detections, "
            + $"{groundTruth.Images.Count} images, {groundTruth.Categories.Count} categories, {seconds:0.00} s");
        foreach (var (name, value) in metrics.Figures)
            Console.WriteLine(FigureLine(name, value, lvis));
        if (jsonFile is not null)
            WriteJson(jsonFile, iouTypeName, metrics);
        return CliErrors.Success;
    }

    private static long[] ParseIds(string text)
    {
        var ids = new List<long>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id))
                throw new FormatException($"--novel-ids: '{part}' is not an integer category id (expected e.g. 3,7,12).");
            ids.Add(id);
        }
        if (ids.Count == 0)
            throw new FormatException("--novel-ids: no category ids given (expected e.g. 3,7,12).");
        return [.. ids];
    }

    /// <summary>One line in the layout of pycocotools' / lvis-api's summaries, with the figure's name at the end.</summary>
    internal static string FigureLine(string name, double value, bool lvis)
    {
        string limit = lvis ? name.Contains('@') ? name[(name.IndexOf('@') + 1)..] : "300" : "100";
        string key = name.Split('@')[0];
        (string iou, string area, string maxDets, string cats) = key switch
        {
            "AP50" or "AP50novel" or "AP50base" => ("0.50", "all", limit, key[4..]),
            "AP75" => ("0.75", "all", limit, ""),
            "APs" or "ARs" => ("0.50:0.95", "small", limit, ""),
            "APm" or "ARm" => ("0.50:0.95", "medium", limit, ""),
            "APl" or "ARl" => ("0.50:0.95", "large", limit, ""),
            "APr" => ("0.50:0.95", "all", limit, "rare"),
            "APc" => ("0.50:0.95", "all", limit, "common"),
            "APf" => ("0.50:0.95", "all", limit, "frequent"),
            "APnovel" or "APbase" => ("0.50:0.95", "all", limit, key[2..]),
            "AR1" or "AR10" or "AR100" => ("0.50:0.95", "all", key[2..], ""),
            _ => ("0.50:0.95", "all", limit, ""),
        };
        string title = name.StartsWith("AP", StringComparison.Ordinal) ? "Average Precision  (AP)" : "Average Recall     (AR)";
        string categories = cats.Length == 0 ? "" : $" | cats={cats,8}";
        return string.Create(CultureInfo.InvariantCulture,
            $" {title} @[ IoU={iou,-9} | area={area,6} | maxDets={maxDets,3}{categories} ] = {value:0.000}   {name}");
    }

    private static void WriteJson(FileInfo file, string iouTypeName, DetectionMetrics metrics)
    {
        JsonObject root = [];
        if (file.Exists)
        {
            try
            {
                if (JsonNode.Parse(File.ReadAllText(file.FullName)) is JsonObject existing)
                    root = existing;
            }
            catch (JsonException)
            {
                // Not ours to keep: overwrite.
            }
        }
        var figures = new JsonObject();
        foreach (var (name, value) in metrics.Figures)
            figures[name] = value;
        root[iouTypeName] = figures;
        File.WriteAllText(file.FullName, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {file.FullName}");
    }
}
