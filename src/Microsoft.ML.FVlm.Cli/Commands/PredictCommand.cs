using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm predict</c>: detect a free-text vocabulary in a folder of images; COCO results and annotated PNGs.</summary>
internal static class PredictCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save", Required = true };
        var images = new Option<DirectoryInfo>("--images") { Description = "folder of images (png, jpg, bmp, webp)", Required = true };
        var classes = new Option<string?>("--classes") { Description = "comma-separated class names (default: the model's vocabulary); names that are not base classes are novel" };
        var output = new Option<DirectoryInfo>("--out") { Description = "output folder: results.json (COCO results), images.json, and one annotated PNG per image", Required = true };
        var threshold = new Option<double>("--threshold") { Description = "draw detections scoring at least this", DefaultValueFactory = _ => 0.3 };
        var scoreThreshold = new Option<double?>("--score-threshold") { Description = "keep (box, class) pairs scoring above this in results.json (default: the model's, 0.05 unless trained otherwise); lower it for vocabularies of thousands of classes" };
        var command = new Command("predict", "Detect a free-text vocabulary in a folder of images: COCO results JSON and annotated PNGs (boxes, masks, labels, scores).")
        {
            model, images, classes, output, threshold, scoreThreshold,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(images)!;
            if (!folder.Exists) throw new DirectoryNotFoundException($"--images: '{folder.FullName}' does not exist.");
            var files = folder.EnumerateFiles().Where(f => ImageExtensions.Contains(f.Extension.ToLowerInvariant())).OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new FileNotFoundException($"--images: '{folder.FullName}' has no png, jpg, bmp or webp files.");
            if (parse.GetValue(scoreThreshold) is { } score && score is not (>= 0 and < 1))
                throw new ArgumentException($"--score-threshold must be in [0, 1); got {score}.");
            string outFolder = parse.GetValue(output)!.FullName;
            WritablePath.EnsureOutputFolder(outFolder, "--out", "the results");

            var mlContext = new MLContext();
            using var loaded = ModelFile.Load(mlContext, parse.GetValue(model)!);
            string[]? names = parse.GetValue(classes)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            using var detector = names is null ? loaded.WithVocabulary(loaded.Vocabulary.Names, loaded.Vocabulary.IsNovel) : loaded.WithVocabulary(names);
            var settings = detector.InferenceSettings with { ScoreThreshold = parse.GetValue(scoreThreshold) ?? detector.InferenceSettings.ScoreThreshold };
            var categories = detector.Vocabulary.Names.Select((n, i) => new CocoCategory { Id = i + 1, Name = n }).ToArray();
            var results = new List<CocoAnnotation>();
            var read = new List<(int Id, FileInfo File)>();
            var skipped = new List<string>();
            var emptyBelowThreshold = new List<float>();
            double minimum = parse.GetValue(threshold);
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("predict", maxValue: files.Length);
                    for (int i = 0; i < files.Length; i++)
                    {
                        task.Increment(1);
                        using var image = TryRead(files[i], skipped);
                        if (image is null) continue;
                        read.Add((i + 1, files[i]));
                        var detections = detector.Detect([image], settings)[0];
                        if (detections.HighestScoreBelowThreshold is { } highest) emptyBelowThreshold.Add(highest);
                        results.AddRange(OpenVocabularyEvaluator.ToResults(i + 1, detections, categories));
                        DetectionPainter.Paint(files[i].FullName, detections, detector.Vocabulary, minimum,
                            Path.Combine(outFolder, Path.GetFileNameWithoutExtension(files[i].Name) + ".png"));
                    }
                });
            foreach (string warning in skipped) Console.Error.WriteLine($"warning: {warning}");
            if (read.Count == 0)
                throw new InvalidDataException($"--images: none of the {files.Length} files in '{folder.FullName}' could be read as an image.");
            CocoJson.WriteResults(results, Path.Combine(outFolder, "results.json"));
            File.WriteAllText(Path.Combine(outFolder, "images.json"), JsonSerializer.Serialize(new
            {
                images = read.Select(r => new { id = r.Id, file_name = r.File.Name }),
                categories = categories.Select(c => new { id = c.Id, name = c.Name, novel = detector.Vocabulary.IsNovel[(int)c.Id - 1] }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLineInterpolated($"{results.Count} detections in {read.Count} images{(skipped.Count > 0 ? $" ({skipped.Count} files skipped)" : "")}: {outFolder}");
            if (emptyBelowThreshold.Count > 0)
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"warning: {emptyBelowThreshold.Count} of {read.Count} images have no detection: every candidate scored under the score threshold {Significant(settings.ScoreThreshold)} (highest {Significant(emptyBelowThreshold.Max())}). ")
                    + $"Every class takes a share of the scores (here {categories.Length} classes): lower --score-threshold, or give fewer classes.");
            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>Three significant digits at most, without an exponent (a score among thousands of classes can be 0.0000123).</summary>
    private static string Significant(double value) =>
        value <= 0 ? "0" : Math.Round(value, Math.Clamp(2 - (int)Math.Floor(Math.Log10(value)), 0, 15)).ToString("0.###############", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Decodes one image; a file that is not one is recorded in <paramref name="skipped"/> and gives null, so that one bad file does not stop the folder.</summary>
    private static MLImage? TryRead(FileInfo file, List<string> skipped)
    {
        try
        {
            return MLImage.CreateFromFile(file.FullName);
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            // ML.NET says only "Invalid path (Parameter 'imagePath')" for a file it cannot decode.
            skipped.Add(file.Length == 0
                ? $"skipped '{file.FullName}': it is empty (0 bytes)."
                : $"skipped '{file.FullName}': not an image ML.NET can decode ({file.Length} bytes{(e is ArgumentException ? "" : $"; {e.Message}")}).");
            return null;
        }
    }
}
