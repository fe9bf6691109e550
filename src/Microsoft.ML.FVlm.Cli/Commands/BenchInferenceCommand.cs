using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Vlm;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench-inference</c>: where inference time goes. Detects Shapes scenes with a trained
/// model, or with an untrained head on any frozen VLM (an exported CLIP at 1024 px), and prints the
/// time per image of each stage, the ratio of the total to the image tower, and throughput per
/// batch size.
/// </summary>
internal static class BenchInferenceCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo?>("--model") { Description = "model zip (its head, VLM and vocabulary)" };
        var vlm = new Option<DirectoryInfo?>("--vlm") { Description = "or: a frozen VLM folder, with an untrained head of the default architecture" };
        var size = new Option<int?>("--image-size") { Description = "canvas side in pixels (default: the model's, or 320)" };
        var images = new Option<int>("--images") { Description = "Shapes scenes to detect, rendered at the canvas size", DefaultValueFactory = _ => 16 };
        var classes = new Option<int?>("--classes") { Description = "vocabulary of this many synthetic class names instead of the model's (vocabulary scaling)" };
        var batches = new Option<string>("--batch-sizes") { Description = "comma-separated batch sizes; the stage table is of the first", DefaultValueFactory = _ => "1" };
        var quick = new Option<bool>("--quick") { Description = "4 images, batch size 1" };
        var command = new Command("bench-inference", "Inference latency per image split into stages (preprocessing, image tower, head, VLM region scoring, post-processing, masks), and throughput per batch size.")
        {
            model, vlm, size, images, classes, batches, quick,
        };
        command.SetAction(parse =>
        {
            var zip = parse.GetValue(model);
            var folder = parse.GetValue(vlm);
            if ((zip is null) == (folder is null)) throw new ArgumentException("Give exactly one of --model (a trained model zip) or --vlm (a frozen VLM folder, untrained head).");
            bool isQuick = parse.GetValue(quick);
            int imageCount = isQuick ? 4 : parse.GetValue(images);
            int[] batchSizes = isQuick ? [1] : ParseBatchSizes(parse.GetValue(batches)!);
            using var detector = zip is not null ? BenchDetector.FromModel(zip, parse.GetValue(size)) : BenchDetector.FromVlm(folder!, parse.GetValue(size) ?? 320);
            var vocabulary = parse.GetValue(classes) is int count
                ? Vocabulary.AllNovel(Enumerable.Range(1, count).Select(i => $"object number {i}").ToArray())
                : detector.Vocabulary;
            detector.Use(vocabulary);

            string scenes = Path.Combine(Path.GetTempPath(), $"fvlm-bench-inference-{Guid.NewGuid():N}");
            try
            {
                new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = imageCount, Seed = 13, ImageSize = detector.ImageSize }).Generate(scenes);
                var files = Directory.GetFiles(Path.Combine(scenes, "val"), "*.png").Order().ToArray();
                // Warm-up: text embeddings of the vocabulary, ONNX Runtime's first run, TorchSharp's allocator.
                using (var first = MLImage.CreateFromFile(files[0])) detector.Detect([first], null);

                var throughput = new Table().AddColumns("batch size", "images", "seconds", "images/s");
                InferenceTimings? stages = null;
                foreach (int batchSize in batchSizes)
                {
                    var timings = new InferenceTimings();
                    var clock = Stopwatch.StartNew();
                    foreach (var chunk in files.Chunk(batchSize))
                    {
                        var batch = chunk.Select(MLImage.CreateFromFile).ToArray();
                        detector.Detect(batch, timings);
                        foreach (var image in batch) image.Dispose();
                    }
                    double seconds = clock.Elapsed.TotalSeconds;
                    throughput.AddRow(batchSize.ToString(), files.Length.ToString(), seconds.ToString("F2"), (files.Length / seconds).ToString("F2"));
                    stages ??= timings;
                }
                AnsiConsole.Write(StageTable(stages!));
                AnsiConsole.Write(throughput);
                double tower = stages![InferenceStage.ImageTower].TotalMilliseconds;
                AnsiConsole.WriteLine($"total / image tower: {stages.Total.TotalMilliseconds / tower:F2} ({detector.Description}, {detector.ImageSize} px, {vocabulary.Names.Count} classes, batch {batchSizes[0]}, {Environment.ProcessorCount} threads)");
            }
            finally
            {
                Directory.Delete(scenes, recursive: true);
            }
            return CliErrors.Success;
        });
        return command;
    }

    private static Table StageTable(InferenceTimings timings)
    {
        var table = new Table().AddColumns("stage", "ms / image", "share");
        double total = timings.Total.TotalMilliseconds;
        foreach (var stage in Enum.GetValues<InferenceStage>())
        {
            double ms = timings[stage].TotalMilliseconds;
            table.AddRow(stage.ToString(), (ms / timings.Images).ToString("F1"), (ms / total).ToString("P0"));
        }
        table.AddRow("total", (total / timings.Images).ToString("F1"), "100 %");
        return table;
    }

    private static int[] ParseBatchSizes(string text)
    {
        var sizes = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new ArgumentException($"--batch-sizes: '{t}' is not a positive integer.")).ToArray();
        return sizes.Length > 0 ? sizes : throw new ArgumentException("--batch-sizes: give at least one batch size.");
    }

    /// <summary>The detector under test: a trained model's, or an untrained head on a frozen VLM.</summary>
    private sealed class BenchDetector : IDisposable
    {
        private readonly FVlmTransformer? _model;
        private readonly OpenVocabularyDetector? _detector;
        private readonly FrozenVlm? _vlm;
        private FVlmTransformer? _view;
        private Vocabulary? _vocabulary;

        private BenchDetector(FVlmTransformer? model, OpenVocabularyDetector? detector, FrozenVlm? vlm, Vocabulary vocabulary, int imageSize, string description)
        {
            (_model, _detector, _vlm, Vocabulary, ImageSize, Description) = (model, detector, vlm, vocabulary, imageSize, description);
        }

        public Vocabulary Vocabulary { get; }
        public int ImageSize { get; }
        public string Description { get; }

        public static BenchDetector FromModel(FileInfo zip, int? imageSize)
        {
            if (imageSize is not null) throw new ArgumentException("--image-size applies to --vlm only: a trained model detects at the size it was trained at.");
            var model = ModelFile.Load(new MLContext(), zip);
            return new BenchDetector(model, null, null, model.Vocabulary, model.ImageSize, $"model {zip.Name}");
        }

        public static BenchDetector FromVlm(DirectoryInfo folder, int imageSize)
        {
            var vlm = FrozenVlm.Load(folder.FullName);
            var head = DetectorFactory.Create(vlm.Manifest, new FVlmOptions().Architecture());
            var detector = new OpenVocabularyDetector(vlm, head, imageSize);
            var names = Enumerable.Range(1, 48).Select(i => $"object number {i}").ToArray();
            return new BenchDetector(null, detector, vlm, Vocabulary.AllNovel(names), imageSize, $"VLM {vlm.Manifest.Name}, untrained head");
        }

        /// <summary>Sets the vocabulary of every later <see cref="Detect"/> (a trained model's view is made once, here).</summary>
        public void Use(Vocabulary vocabulary)
        {
            _view?.Dispose();
            _view = _model?.WithVocabulary(vocabulary.Names, vocabulary.IsNovel);
            _vocabulary = vocabulary;
        }

        public void Detect(IReadOnlyList<MLImage> images, InferenceTimings? timings)
        {
            var vocabulary = _vocabulary ?? throw new InvalidOperationException("Use(vocabulary) first.");
            if (_view is not null)
            {
                if (timings is null) _view.Detect(images);
                else _view.Detect(images, timings);
            }
            else
            {
                _detector!.Detect(images, vocabulary, [new InferenceSettings()], timings);
            }
        }

        public void Dispose()
        {
            _view?.Dispose();
            _model?.Dispose();
            _detector?.Head.Dispose();
            _vlm?.Dispose();
        }
    }
}
