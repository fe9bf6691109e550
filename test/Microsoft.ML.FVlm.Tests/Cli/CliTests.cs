namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>The fvlm tool's exit codes and messages, run in-process.</summary>
[NonParallelizable]
public class CliTests
{
    private static (int ExitCode, string Output) Run(params string[] args) => CliRunner.Run(args);

    private static (int ExitCode, string Output, string Error) RunApart(params string[] args) => CliRunner.RunApart(args);

    [Test]
    public void TokenizePrintsOneJsonArrayPerText()
    {
        var (code, output) = Run("tokenize", "--merges", SharedClip.MergesPath, "a photo of a cat.", "naïve résumé");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "[49406,320,1125,539,320,2368,269,49407]",
            "[49406,1097,35689,563,29106,7054,4166,49407]",
        }));
    }

    [Test]
    public void UserErrorsExitWithOneAndNameTheFile()
    {
        var (code, output) = Run("evaluate-results", "--ground-truth", "/nonexistent/gt.json", "--detections", "/nonexistent/dt.json");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("gt.json"));
    }

    [Test]
    public void EvaluateNeedsNoFileNames()
    {
        // pycocotools and lvis-api never read file_name; a ground truth made for evaluation may leave it out.
        using var files = new EvaluationFiles(
            """
            {"images": [{"id": 1, "width": 20, "height": 20}], "categories": [{"id": 1, "name": "square"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0}]}
            """,
            """[{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.9}]""");
        var (code, output, error) = RunApart("evaluate-results", "--ground-truth", files.GroundTruth, "--detections", files.Detections);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output.Split('\n').Select(line => line.TrimEnd()), Has.Some.EndsWith("] = 1.000   AP"));
    }

    [Test]
    public void EvaluateWarnsOnStandardErrorOfResultsOfUnknownCategories()
    {
        // pycocotools and lvis-api leave such results out without a word; the figures stay theirs, a warning says so.
        using var files = new EvaluationFiles(
            """
            {"images": [{"id": 1, "file_name": "1.png", "width": 20, "height": 20}], "categories": [{"id": 1, "name": "square"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0}]}
            """,
            """
            [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.8},
             {"image_id": 1, "category_id": 9, "bbox": [2, 2, 10, 10], "score": 0.9}]
            """);
        var (code, output, error) = RunApart("evaluate-results", "--ground-truth", files.GroundTruth, "--detections", files.Detections);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output.Split('\n').Select(line => line.TrimEnd()), Has.Some.EndsWith("] = 1.000   AP"));
        Assert.That(error, Does.StartWith($"warning: {files.Detections}: 1 of 2 results has a category_id that is not a category of {files.GroundTruth} (9)"));
    }

    [Test]
    public void BadRegionScalesAreNamed()
    {
        var (code, output) = Run("evaluate-vlm", "--vlm", "/nonexistent/vlm", "--data", "/nonexistent/data", "--region-scales", "0.5,x");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("--region-scales: 'x' is not a number"));
        (code, output) = Run("evaluate-model", "--model", "/nonexistent/m.zip", "--data", "/nonexistent/data", "--region-scales", "1,2", "--region-scale-spread", "0");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("--region-scale-spread").And.Contain("spread must be from 0.01 to 10"));
        (code, output) = Run("evaluate-model", "--model", "/nonexistent/m.zip", "--data", "/nonexistent/data", "--region-object-size", "80");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("--region-object-size and --region-scale-spread need --region-scales"));
    }

    [Test]
    public void PredictRejectsClassesThatTokenizeIdentically()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-predict-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(folder);
            using (var image = TinyModels.RandomImage(64, 64, 1)) image.Save(Path.Combine(folder, "a.png"));
            var (code, output) = Run("predict", "--model", Microsoft.ML.FVlm.Shapes.ShapesDetector.ModelFile, "--images", folder,
                "--classes", "circle,lightning bolt,Circle", "--out", Path.Combine(folder, "out"));
            Assert.That(code, Is.EqualTo(1), output);
            Assert.That(output, Does.Contain("0 ('circle')").And.Contain("2 ('Circle')"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void SyntaxErrorsExitWithTwo()
    {
        Assert.That(Run("shapes", "--no-such-option").ExitCode, Is.EqualTo(2));
        Assert.That(Run("no-such-verb").ExitCode, Is.EqualTo(2));
    }

    [Test]
    public void DemoDetectsFreshScenesWithTheShippedDetector()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-demo-{Guid.NewGuid():N}");
        try
        {
            var (code, output) = Run("demo", "--images", "3", "--out", folder);
            Assert.That(code, Is.EqualTo(0), output);
            Assert.That(output, Does.Contain("13 novel"));
            string page = File.ReadAllText(Path.Combine(folder, "index.html"));
            var drawn = Directory.GetFiles(folder, "*-detections.png");
            Assert.That(drawn, Has.Length.EqualTo(3));
            foreach (var file in drawn) Assert.That(page, Does.Contain(Path.GetFileName(file)));
            var results = Microsoft.ML.FVlm.Data.CocoJson.ReadResults(Path.Combine(folder, "results.json"));
            var novelIds = Microsoft.ML.FVlm.Data.CocoJson.ReadDataset(Path.Combine(folder, "scenes", "val.json")).Categories.Where(c => c.Frequency == "r").Select(c => c.Id).ToHashSet();
            Assert.That(results.Where(r => r.Score >= 0.3).Select(r => r.ImageId).Distinct().Count(), Is.EqualTo(3), "confident detections in every scene");
            Assert.That(results.Any(r => novelIds.Contains(r.CategoryId)), "detections of novel categories");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void HelpListsEveryVerb()
    {
        var (code, output) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (string verb in new[] { "demo", "shapes", "train", "evaluate-model", "predict", "evaluate-results", "evaluate-vlm", "tokenize", "bench", "bench-train", "bench-inference" })
            Assert.That(output, Does.Contain(verb));
    }

    [TestCase("eval", "evaluate-model")]
    [TestCase("evaluate", "evaluate-results")]
    [TestCase("vlm-eval", "evaluate-vlm")]
    public void TheFormerVerbNamesRunTheRenamedCommands(string former, string current)
    {
        var (code, output) = Run(former, "--help");
        Assert.That(code, Is.EqualTo(0), output);
        var (_, currentHelp) = Run(current, "--help");
        Assert.That(output, Is.EqualTo(currentHelp), "the same command, whichever name");
    }

    [Test]
    public void BenchChecksItsFilesBeforeMeasuring()
    {
        var (code, output) = Run("bench", "--oracle", "/nonexistent/oracle.zip", "--out", Path.GetTempPath());
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("oracle.zip").And.Contain("report.sh"));

        string json = Path.Combine(Path.GetTempPath(), $"fvlm-eval-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(json, """{ "bbox": { "detection": { "novel": 0.1 } } }""");
            var error = Assert.Throws<InvalidDataException>(() => Microsoft.ML.FVlm.Cli.Benchmarks.OpenVocabularyResult.Read("m.zip", new FileInfo(json)));
            Assert.That(error!.Message, Does.Contain(Path.GetFileName(json)).And.Contain("\"bbox\".\"detection\" has no \"base\""));
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Test]
    public void BenchReadsWhatEvalWrites()
    {
        string json = Path.Combine(Path.GetTempPath(), $"fvlm-eval-{Guid.NewGuid():N}.json");
        try
        {
            // What 'fvlm evaluate-model --json' writes (EvalCommand calls OpenVocabularyResult.Write), with figures that differ per cell.
            var table = new[] { "bbox", "segm" }.ToDictionary(iou => iou, iou => (IReadOnlyDictionary<string, Microsoft.ML.FVlm.Evaluation.OpenVocabularyFigures>)
                new[] { "detection", "vlm", "fused" }.ToDictionary(source => source, source =>
                {
                    double At(int k) => (iou == "segm" ? 0.5 : 0) + source.Length / 100.0 + k / 1000.0;
                    return new Microsoft.ML.FVlm.Evaluation.OpenVocabularyFigures(At(0), At(1), At(2), At(3), At(4), At(5));
                }));
            Microsoft.ML.FVlm.Cli.Benchmarks.OpenVocabularyResult.Write(table, json);
            Assert.That(File.ReadAllText(json), Does.Contain("\"APr\"").And.Contain("\"segm\""));
            var result = Microsoft.ML.FVlm.Cli.Benchmarks.OpenVocabularyResult.Read("m.zip", new FileInfo(json));
            Assert.That(result.Table["segm"]["fused"], Is.EqualTo(new Microsoft.ML.FVlm.Evaluation.OpenVocabularyFigures(0.55, 0.551, 0.552, 0.553, 0.554, 0.555)));
            Assert.That(result.Table["bbox"]["vlm"].Frequent, Is.EqualTo(0.035).Within(1e-12));
            Assert.That(result.Source, Is.EqualTo(json));
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>A ground-truth file and a results file in a fresh temporary folder, deleted on dispose.</summary>
    private sealed class EvaluationFiles : IDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), $"fvlm-evaluate-{Guid.NewGuid():N}");

        public EvaluationFiles(string groundTruth, string detections)
        {
            Directory.CreateDirectory(_folder);
            GroundTruth = Path.Combine(_folder, "gt.json");
            Detections = Path.Combine(_folder, "dt.json");
            File.WriteAllText(GroundTruth, groundTruth);
            File.WriteAllText(Detections, detections);
        }

        public string GroundTruth { get; }

        public string Detections { get; }

        public void Dispose() => Directory.Delete(_folder, recursive: true);
    }
}
