using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Persistence;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>
/// What the shipped Shapes detector detects, against the record of it in Assets/shipped-detector-val100.json.gz
/// (eng/golden/record-shipped-detector.sh: the first 100 <c>val</c> scenes, seed 0, 320 px, through the model-load
/// probe). A change of the inference path that changes what users get fails here. The rule is the one any
/// inference path must meet: per image, at least 99.5 % of the recorded detections matched one to one by a detection
/// with the same label, every box coordinate within 0.01 px and the score within 1e-4 relative, and each matched
/// pair's masks at an IoU of 0.99 or more. The first 10 scenes by default; <c>FVLM_GOLDEN_SCENES=100</c> checks all.
/// </summary>
public class ShippedDetectorGoldenTests
{
    internal const int ImageSide = 320;
    internal const double BoxTolerance = 0.01, ScoreTolerance = 1e-4, MatchedFraction = 0.995, MaskIou = 0.99;

    [Test]
    public void TheShippedDetectorDetectsWhatTheRecordSays()
    {
        var golden = ReadGolden();
        int scenes = int.TryParse(Environment.GetEnvironmentVariable("FVLM_GOLDEN_SCENES"), out int n) ? Math.Clamp(n, 1, golden.Length) : 10;
        using var rendered = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = scenes, Seed = 0, ImageSize = ImageSide }, "golden");
        var detected = Detect(rendered.ImagePaths());
        Assert.That(detected, Has.Length.EqualTo(scenes));
        Assert.That(golden.Take(scenes).Sum(g => g.Labels.Length), Is.GreaterThan(10 * scenes), "the premise: the record holds detections");

        int allMatched = 0;
        double lowestIou = 1;
        for (int i = 0; i < scenes; i++)
        {
            var (matched, worstIou) = Match(golden[i], detected[i]);
            Assert.That(matched, Is.GreaterThanOrEqualTo(MatchedFraction * golden[i].Labels.Length),
                $"scene {i}: {matched} of {golden[i].Labels.Length} recorded detections matched ({detected[i].Labels.Length} detected)");
            Assert.That(worstIou, Is.GreaterThanOrEqualTo(MaskIou), $"scene {i}: the lowest mask IoU of a matched pair");
            (allMatched, lowestIou) = (allMatched + matched, Math.Min(lowestIou, worstIou));
        }
        TestContext.Out.WriteLine($"{scenes} scenes: {allMatched} of {golden.Take(scenes).Sum(g => g.Labels.Length)} recorded detections matched, lowest mask IoU {lowestIou:F4}");
    }

    [Test]
    public void TheRuleRefusesAShiftedBoxAScoreOffAndAnotherLabel()
    {
        var recorded = ReadGolden()[0];
        Assert.That(Match(recorded, recorded), Is.EqualTo((recorded.Labels.Length, 1.0)), "the record matches itself");
        var empty = CocoMask.ToCompressedString(new RleMask(ImageSide, ImageSide, [ImageSide * ImageSide]));
        var bothEmpty = recorded with { Masks = recorded.Masks.Select(_ => empty).ToArray() };
        Assert.That(Match(bothEmpty, bothEmpty), Is.EqualTo((recorded.Labels.Length, 1.0)), "empty masks match empty masks");
        Assert.That(Match(recorded, bothEmpty).WorstIou, Is.LessThan(MaskIou), "an empty mask does not match a drawn one");

        var boxes = recorded.Boxes.ToArray();
        boxes[0] += 0.02f;
        var scores = recorded.Scores.ToArray();
        scores[1] *= 1.001f;
        var labels = recorded.Labels.ToArray();
        labels[2] = labels[2] == "ring" ? "circle" : "ring";
        Assert.That(Match(recorded, recorded with { Boxes = boxes, Scores = scores, Labels = labels }).Matched, Is.EqualTo(recorded.Labels.Length - 3));
    }

    /// <summary>Recorded detections matched one to one (best recorded score first) and the lowest mask IoU among the matched pairs.</summary>
    internal static (int Matched, double WorstIou) Match(ModelLoadProbe.Detections recorded, ModelLoadProbe.Detections detected) =>
        Match(recorded, detected, ImageSide, ImageSide);

    /// <summary>As <see cref="Match(ModelLoadProbe.Detections, ModelLoadProbe.Detections)"/>, for masks of an image of <paramref name="height"/> x <paramref name="width"/>.</summary>
    internal static (int Matched, double WorstIou) Match(ModelLoadProbe.Detections recorded, ModelLoadProbe.Detections detected, int height, int width)
    {
        var used = new bool[detected.Labels.Length];
        int matched = 0;
        double worstIou = 1;
        foreach (int r in Enumerable.Range(0, recorded.Labels.Length).OrderByDescending(r => recorded.Scores[r]))
        {
            int d = Enumerable.Range(0, detected.Labels.Length).FirstOrDefault(d => !used[d] && Agree(recorded, r, detected, d), -1);
            if (d < 0) continue;
            used[d] = true;
            matched++;
            var masks = new[] { recorded.Masks[r], detected.Masks[d] }.Select(m => CocoMask.FromCompressedString(m, height, width)).ToArray();
            // Two empty masks (a box whose mask probabilities are all under 0.5) are the same mask, though COCO's IoU of them is 0.
            worstIou = Math.Min(worstIou, masks[0].Equals(masks[1]) ? 1 : CocoMask.Iou([masks[0]], [masks[1]], [false])[0, 0]);
        }
        return (matched, worstIou);
    }

    private static bool Agree(ModelLoadProbe.Detections recorded, int r, ModelLoadProbe.Detections detected, int d) =>
        recorded.Labels[r] == detected.Labels[d]
        && Math.Abs(recorded.Scores[r] - detected.Scores[d]) <= ScoreTolerance * recorded.Scores[r]
        && Enumerable.Range(0, 4).All(j => Math.Abs(recorded.Boxes[r * 4 + j] - detected.Boxes[d * 4 + j]) <= BoxTolerance);

    private static ModelLoadProbe.Detections[] Detect(string[] imagePaths)
    {
        var ml = new MLContext(seed: 0);
        using var detector = (FVlmTransformer)ml.Model.Load(ShapesDetector.ModelFile, out _);
        var input = ml.Data.LoadFromEnumerable(imagePaths.Select(p => new ImagePathRow { ImagePath = p }));
        var images = ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImagePathRow.ImagePath)).Fit(input).Transform(input);
        var names = detector.Vocabulary.Names;
        return DetectionRow.ReadAll(detector.Transform(images))
            .Select(row => new ModelLoadProbe.Detections(row.Labels.Select(k => names[(int)k - 1]).ToArray(), row.Scores, row.Boxes, row.Masks))
            .ToArray();
    }

    internal static ModelLoadProbe.Detections[] ReadGolden()
    {
        string path = Path.Combine(RepositoryRoot.Path, "test", "Microsoft.ML.FVlm.Tests", "Assets", "shipped-detector-val100.json.gz");
        using var file = File.OpenRead(path);
        using var json = new GZipStream(file, CompressionMode.Decompress);
        return ModelLoadProbe.ParseDetections(JsonDocument.Parse(json));
    }

    private sealed class ImagePathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
