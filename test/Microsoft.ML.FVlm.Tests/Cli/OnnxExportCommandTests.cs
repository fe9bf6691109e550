using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>
/// <c>fvlm export</c> and <c>fvlm embed-text</c> give a graph and a vocabulary that ONNX Runtime alone runs (this test
/// decodes the images, feeds the graph and writes COCO results with System.Text.Json; no library code is in the loop
/// beyond reading the .npy files): on 50 fresh Shapes val scenes, the box AP that <c>fvlm evaluate-results</c> gives
/// those results, overall and on the novel classes, is within 0.01 of the AP of <c>fvlm predict</c>'s results for
/// the same vocabulary.
/// </summary>
[NonParallelizable]
public class OnnxExportCommandTests
{
    [Test]
    public void TheExportedGraphAndVocabularyScoreAsPredictDoes()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-export-cli-{Guid.NewGuid():N}");
        try
        {
            string scenes = Path.Combine(folder, "scenes");
            Assert.That(CliRunner.Run("shapes", "--split", "val", "--images", "50", "--seed", "23", "--size", "320", "--out", scenes).ExitCode, Is.EqualTo(0));
            string groundTruth = Path.Combine(scenes, "val.json");
            var categories = JsonDocument.Parse(File.ReadAllText(groundTruth)).RootElement.GetProperty("categories").EnumerateArray()
                .Select(c => (Id: c.GetProperty("id").GetInt32(), Name: c.GetProperty("name").GetString()!)).OrderBy(c => c.Id).ToArray();
            Assert.That(categories.Select(c => c.Id), Is.EqualTo(Enumerable.Range(1, categories.Length)), "the premise: category ids are rows of the vocabulary plus 1");
            string classes = string.Join(",", categories.Select(c => c.Name));
            var baseNames = BaseClassNames();
            string novelIds = string.Join(",", categories.Where(c => !baseNames.Contains(c.Name)).Select(c => c.Id));
            Assert.That(novelIds, Is.Not.Empty, "the premise: the vocabulary has novel classes");

            string predicted = Path.Combine(folder, "predict");
            var (code, text) = CliRunner.Run("predict", "--model", ShapesDetector.ModelFile, "--images", Path.Combine(scenes, "val"), "--classes", classes, "--out", predicted);
            Assert.That(code, Is.EqualTo(0), text);
            string graph = Path.Combine(folder, "detector.onnx"), vocabulary = Path.Combine(folder, "vocabulary");
            (code, text) = CliRunner.Run("export", "--model", ShapesDetector.ModelFile, "--out", graph);
            Assert.That(code, Is.EqualTo(0), text);
            (code, text) = CliRunner.Run("embed-text", "--model", ShapesDetector.ModelFile, "--classes", classes, "--out", vocabulary);
            Assert.That(code, Is.EqualTo(0), text);
            Assert.That(text, Does.Contain($"for {categories.Length} classes"));

            string exported = Path.Combine(folder, "graph-results.json");
            WriteResults(graph, vocabulary, Directory.GetFiles(Path.Combine(scenes, "val"), "*.png").Order(StringComparer.Ordinal).ToArray(), exported);
            var expected = Evaluate(groundTruth, Path.Combine(predicted, "results.json"), novelIds, Path.Combine(folder, "predict-ap.json"));
            var actual = Evaluate(groundTruth, exported, novelIds, Path.Combine(folder, "graph-ap.json"));
            TestContext.Out.WriteLine($"predict: AP {expected.Ap:F4}, APnovel {expected.ApNovel:F4}; exported graph on ONNX Runtime: AP {actual.Ap:F4}, APnovel {actual.ApNovel:F4}");

            Assert.That(expected.Ap, Is.GreaterThan(0.2), "the premise: the shipped detector detects");
            Assert.That(expected.ApNovel, Is.GreaterThan(0.05), "the premise: and detects novel classes");
            Assert.That(actual.Ap, Is.EqualTo(expected.Ap).Within(0.01), "AP");
            Assert.That(actual.ApNovel, Is.EqualTo(expected.ApNovel).Within(0.01), "APnovel");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    private static HashSet<string> BaseClassNames()
    {
        using var transformer = (FVlmTransformer)new MLContext().Model.Load(ShapesDetector.ModelFile, out _);
        return transformer.BaseClassNames.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Runs the graph on every image with ONNX Runtime and writes COCO box results (image ids 1, 2, ... in file order, as predict numbers them).</summary>
    private static void WriteResults(string graphFile, string vocabularyFolder, string[] images, string path)
    {
        var (text, textShape) = NpyFile.Read(Path.Combine(vocabularyFolder, "text_embeddings.npy"));
        var (weights, weightsShape) = NpyFile.Read(Path.Combine(vocabularyFolder, "vlm_weights.npy"));
        using var session = new InferenceSession(graphFile);
        using var textValue = OrtValue.CreateTensorValueFromMemory(text, textShape);
        using var weightsValue = OrtValue.CreateTensorValueFromMemory(weights, weightsShape);
        var results = new List<object>();
        for (int i = 0; i < images.Length; i++)
        {
            using var image = MLImage.CreateFromFile(images[i]);
            using var imageValue = OrtValue.CreateTensorValueFromMemory(Rgb(image), [image.Height, image.Width, 3]);
            using var outputs = session.Run(new RunOptions(), ["image", "text_embeddings", "vlm_weights"], [imageValue, textValue, weightsValue], ["boxes", "scores", "labels"]);
            var boxes = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            var scores = outputs[1].GetTensorDataAsSpan<float>().ToArray();
            var labels = outputs[2].GetTensorDataAsSpan<long>().ToArray();
            for (int d = 0; d < labels.Length; d++)
                results.Add(new
                {
                    image_id = i + 1,
                    category_id = labels[d] + 1,
                    bbox = new[] { boxes[d * 4], boxes[d * 4 + 1], boxes[d * 4 + 2] - boxes[d * 4], boxes[d * 4 + 3] - boxes[d * 4 + 1] },
                    score = scores[d],
                });
        }
        File.WriteAllText(path, JsonSerializer.Serialize(results));
    }

    private static byte[] Rgb(MLImage image)
    {
        var pixels = image.Pixels;
        (int r, int g, int b) = image.PixelFormat == MLPixelFormat.Bgra32 ? (2, 1, 0) : (0, 1, 2);
        var rgb = new byte[image.Width * image.Height * 3];
        for (int p = 0; p < image.Width * image.Height; p++)
            (rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]) = (pixels[p * 4 + r], pixels[p * 4 + g], pixels[p * 4 + b]);
        return rgb;
    }

    private static (double Ap, double ApNovel) Evaluate(string groundTruth, string detections, string novelIds, string json)
    {
        var (code, text) = CliRunner.Run("evaluate-results", "--ground-truth", groundTruth, "--detections", detections, "--iou-type", "bbox", "--novel-ids", novelIds, "--json", json);
        Assert.That(code, Is.EqualTo(0), text);
        var box = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("bbox");
        return (box.GetProperty("AP").GetDouble(), box.GetProperty("APnovel").GetDouble());
    }
}
