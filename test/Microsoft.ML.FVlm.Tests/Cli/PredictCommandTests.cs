using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Vlm;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary><c>fvlm predict</c> on a tiny fitted model (the tiny VLM, 4 steps) and a few small Shapes scenes.</summary>
[NonParallelizable]
public class PredictCommandTests
{
    private string _folder = "";
    private string _model = "";
    private string _scenes = "";

    [OneTimeSetUp]
    public void FitAndSave()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"fvlm-predict-cli-{Guid.NewGuid():N}");
        string train = Path.Combine(_folder, "train");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 6, Seed = 4, ImageSize = 96, MaxInstances = 3 }).Generate(train);
        var dataset = CocoJson.ReadDataset(Path.Combine(train, "train-base.json"));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromCocoDataset(dataset, train, new CocoLoaderOptions { CategoryIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray() });
        using var model = ml.Transforms.DetectObjectsOpenVocabulary(new FVlmOptions
        {
            VlmFolder = TinyModels.VlmFolder, ImageSize = 96, Steps = 4, BatchSize = 3, WarmupSteps = 1,
            PyramidChannels = 16, HeadConvChannels = 16, BoxHeadFcDim = 32, AnchorSizes = [16, 32, 64, 128, 256], InferenceProposalCount = 50,
        }).Fit(data);
        _model = Path.Combine(_folder, "model.zip");
        ml.Model.Save(model, data.Schema, _model);
        _scenes = Path.Combine(_folder, "scenes");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 2, Seed = 9, ImageSize = 96, MaxInstances = 3 }).Generate(_scenes);
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_folder, recursive: true);

    /// <summary>A folder holding copies of the rendered scenes.</summary>
    private string Images(string name)
    {
        string folder = Path.Combine(_folder, name);
        Directory.CreateDirectory(folder);
        foreach (string png in Directory.GetFiles(Path.Combine(_scenes, "val"), "*.png"))
            File.Copy(png, Path.Combine(folder, Path.GetFileName(png)));
        return folder;
    }

    [Test]
    public void FilesThatAreNotImagesAreSkippedWithAWarning()
    {
        string images = Images("with-bad-files");
        File.WriteAllBytes(Path.Combine(images, "empty.png"), []);
        File.WriteAllText(Path.Combine(images, "notes.jpg"), "not an image");
        string output = Path.Combine(_folder, "with-bad-files-out");

        var (code, text) = CliRunner.Run("predict", "--model", _model, "--images", images, "--out", output);

        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(text, Does.Contain($"warning: skipped '{Path.Combine(images, "empty.png")}'").And.Contain("0 bytes"));
        Assert.That(text, Does.Contain($"warning: skipped '{Path.Combine(images, "notes.jpg")}'"));
        using var listing = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "images.json")));
        var listed = listing.RootElement.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("file_name").GetString()).ToArray();
        Assert.That(listed, Is.EqualTo(new[] { "000000.png", "000001.png" }));
        Assert.That(Directory.GetFiles(output, "*.png").Select(Path.GetFileName), Is.EquivalentTo(new[] { "000000.png", "000001.png" }));

        // Nothing readable at all is an error.
        string bad = Path.Combine(_folder, "only-bad-files");
        Directory.CreateDirectory(bad);
        File.WriteAllBytes(Path.Combine(bad, "empty.png"), []);
        (code, text) = CliRunner.Run("predict", "--model", _model, "--images", bad, "--out", Path.Combine(_folder, "only-bad-files-out"));
        Assert.That(code, Is.EqualTo(1), text);
        Assert.That(text, Does.Contain($"error: --images: none of the 1 files in '{bad}' could be read as an image"));
    }

    [Test]
    public void AnUnwritableTemporaryFolderIsNamed()
    {
        // Root writes to read-only folders: a regular file cannot be a folder for anyone.
        string notAFolder = Path.Combine(_folder, "tmp-is-a-file");
        File.WriteAllText(notAFolder, "");
        string? original = Environment.GetEnvironmentVariable("TMPDIR");
        (int ExitCode, string Output) result;
        try
        {
            Environment.SetEnvironmentVariable("TMPDIR", notAFolder);
            result = CliRunner.Run("predict", "--model", _model, "--images", Images("tmp"), "--out", Path.Combine(_folder, "tmp-out"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", original);
        }
        Assert.That(result.ExitCode, Is.EqualTo(1), result.Output);
        Assert.That(result.Output, Does.StartWith($"error: the temporary folder '{notAFolder}").And.Contain("TMPDIR"));
        Assert.That(result.Output, Does.Not.Contain("not a readable ML.NET model"));
    }

    [Test]
    public void AVocabularyWhoseScoresAllFallUnderTheThresholdIsExplained()
    {
        // Made-up names: the scores spread over all of them and none reaches the model's threshold (0.05).
        var random = new Random(7);
        string[] syllables = ["ka", "lo", "mi", "ra", "te", "zu", "po", "ve", "dan", "gor", "bel", "fin"];
        var names = Enumerable.Range(0, 3000).Select(_ => string.Concat(Enumerable.Range(0, 4).Select(_ => syllables[random.Next(syllables.Length)]))).Distinct().ToArray();
        string images = Images("large-vocabulary");

        var (code, text) = CliRunner.Run("predict", "--model", _model, "--images", images, "--out", Path.Combine(_folder, "large-vocabulary-out"), "--classes", string.Join(',', names));

        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(text, Does.Contain("0 detections in 2 images"));
        var explained = Regex.Match(text, @"every candidate scored under the score threshold 0\.05 \(highest ([0-9.]+)\)");
        Assert.That(explained.Success, text);
        Assert.That(text, Does.Contain("--score-threshold").And.Contain($"{names.Length} classes"));

        // The remedy it names: a threshold under the highest score keeps detections.
        double highest = double.Parse(explained.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(highest, Is.GreaterThan(0).And.LessThan(0.05));
        (code, text) = CliRunner.Run("predict", "--model", _model, "--images", images, "--out", Path.Combine(_folder, "large-vocabulary-lower"), "--classes", string.Join(',', names),
            "--score-threshold", (highest / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(Regex.Match(text, @"(\d+) detections in 2 images").Groups[1].Value, Is.Not.EqualTo("0"), text);
        Assert.That(text, Does.Not.Contain("2 of 2 images have no detection"));
    }
}
