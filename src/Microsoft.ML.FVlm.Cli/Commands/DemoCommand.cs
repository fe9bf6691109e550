using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Shapes;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm demo</c>: open-vocabulary detection end to end on the embedded default. Renders fresh
/// Shapes scenes, detects all 48 categories (the 16 novel ones were never annotated in training)
/// with the shipped detector, writes annotated images and an HTML page, and prints AP per group.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo?>("--model") { Description = "model zip (default: the shipped Shapes detector)" };
        var output = new Option<DirectoryInfo>("--out") { Description = "output folder: index.html, annotated PNGs, results.json (the fused detections of the evaluation: 300 per image at most)", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("out", "demo")) };
        var images = new Option<int>("--images") { Description = "fresh Shapes scenes to render and detect", DefaultValueFactory = _ => 24 };
        var seed = new Option<int>("--seed") { Description = "seed of the scenes (the shipped detector trained on seed 0)", DefaultValueFactory = _ => 2026 };
        var threshold = new Option<double>("--threshold") { Description = "draw and list detections scoring at least this", DefaultValueFactory = _ => 0.3 };
        var command = new Command("demo", "Open-vocabulary detection on fresh Shapes scenes with the shipped detector: annotated images, an HTML page, and AP for novel, base and all categories.")
        {
            model, output, images, seed, threshold,
        };
        command.SetAction(parse =>
        {
            var zip = parse.GetValue(model) ?? new FileInfo(ShapesDetector.ModelFile);
            int count = parse.GetValue(images);
            if (count <= 0) throw new ArgumentException($"--images must be positive; got {count}.");
            string outFolder = parse.GetValue(output)!.FullName;
            string scenes = Path.Combine(outFolder, "scenes");
            Directory.CreateDirectory(outFolder);

            var mlContext = new MLContext();
            using var loaded = ModelFile.Load(mlContext, zip);
            new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = count, Seed = parse.GetValue(seed), ImageSize = loaded.ImageSize }).Generate(scenes);
            var groundTruth = CocoJson.ReadDataset(Path.Combine(scenes, ShapesGenerator.AnnotationFileName(ShapesSplit.Val)));
            var categories = groundTruth.Categories.OrderBy(c => c.Id).ToArray();
            // Every category of the world; those that are not base classes of the model are novel (beta).
            using var detector = loaded.WithVocabulary(categories.Select(c => c.Name).ToArray());

            double minimum = parse.GetValue(threshold);
            var pages = new List<(string File, ImageDetections Detections)>();
            var results = new List<CocoAnnotation>();
            IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> table = null!;
            // One pass: the evaluation's fused detections are also the ones drawn and written.
            void Draw(CocoImage image, ImageDetections detections)
            {
                results.AddRange(OpenVocabularyEvaluator.ToResults(image.Id, detections, categories));
                string name = Path.GetFileNameWithoutExtension(image.FileName) + "-detections.png";
                DetectionPainter.Paint(Path.Combine(scenes, image.FileName), detections, detector.Vocabulary, minimum, Path.Combine(outFolder, name));
                pages.Add((name, detections));
            }
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("detect and evaluate", maxValue: count);
                    table = OpenVocabularyEvaluator.Evaluate(loaded, groundTruth, scenes, progress: new SynchronousProgress(done => task.Value = done), fusedDetections: Draw);
                });
            CocoJson.WriteResults(results, Path.Combine(outFolder, "results.json"));
            File.WriteAllText(Path.Combine(outFolder, "index.html"), Page(pages, detector.Vocabulary, minimum, table, zip.Name));

            var view = new Table().Title($"AP on {count} fresh scenes (LVIS protocol)").AddColumns("", "novel", "base", "all");
            foreach (var (iouType, rows) in table)
                foreach (var (source, f) in rows)
                    view.AddRow($"{(iouType == "segm" ? "mask" : "box")}, {source}", EvalCommand.F(f.Novel), EvalCommand.F(f.Base), EvalCommand.F(f.All));
            AnsiConsole.Write(view);
            int novel = detector.Vocabulary.IsNovel.Count(n => n);
            AnsiConsole.WriteLine($"{detector.Vocabulary.Names.Count} classes ({novel} novel: never annotated in training). Open {Path.Combine(outFolder, "index.html")}");
            return CliErrors.Success;
        });
        return command;
    }

    private static string Page(List<(string File, ImageDetections Detections)> pages, Vocabulary vocabulary, double minimum,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> table, string model)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>F-VLM for ML.NET: open-vocabulary detection on Shapes</title>");
        html.AppendLine("<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:.5em;vertical-align:top;width:340px}"
            + "figcaption{font-size:12px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}.novel{color:#b00}</style></head><body>");
        html.AppendLine($"<h1>Open-vocabulary detection on Shapes</h1><p>Model <code>{WebUtility.HtmlEncode(model)}</code>; {vocabulary.Names.Count} classes, of which "
            + $"<span class=\"novel\">{vocabulary.IsNovel.Count(n => n)} novel</span> (never annotated in training; dashed boxes). Detections scoring at least {minimum.ToString(CultureInfo.InvariantCulture)} are drawn.</p>");
        html.AppendLine("<table><tr><th>AP</th><th>novel</th><th>base</th><th>all</th></tr>");
        foreach (var (iouType, rows) in table)
            foreach (var (source, f) in rows)
                html.AppendLine($"<tr><td>{(iouType == "segm" ? "mask" : "box")}, {source}</td><td>{EvalCommand.F(f.Novel)}</td><td>{EvalCommand.F(f.Base)}</td><td>{EvalCommand.F(f.All)}</td></tr>");
        html.AppendLine("</table>");
        foreach (var (file, detections) in pages)
        {
            var labels = Enumerable.Range(0, detections.Count).Where(d => detections.Scores[d] >= minimum).Select(d =>
            {
                string name = WebUtility.HtmlEncode(vocabulary.Names[detections.Classes[d]]);
                string score = detections.Scores[d].ToString("F2", CultureInfo.InvariantCulture);
                return vocabulary.IsNovel[detections.Classes[d]] ? $"<span class=\"novel\">{name} {score}</span>" : $"{name} {score}";
            });
            html.AppendLine($"<figure><img src=\"{WebUtility.HtmlEncode(file)}\" width=\"320\"><figcaption>{string.Join(", ", labels)}</figcaption></figure>");
        }
        html.AppendLine("</body></html>");
        return html.ToString();
    }
}
