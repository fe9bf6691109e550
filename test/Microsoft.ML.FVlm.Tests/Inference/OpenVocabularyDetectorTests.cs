using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Tests.Modeling;
using Microsoft.ML.FVlm.Tests.Vlm;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>Inference invariants on the tiny random VLM with an untrained head (so many low-confidence detections).</summary>
public class OpenVocabularyDetectorTests
{
    private static readonly Vocabulary Classes = new(["ring", "circle", "square", "star"], [false, false, true, true]);

    [Test]
    public void DetectionsAreRankedSuppressedAndInsideTheImage()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(80, 120, 1), TinyModels.RandomImage(64, 64, 2));
        // F-VLM's reference without the renormalisation, so that each score is its formula (the division is ScoreFusionTests').
        var settings = new InferenceSettings { ScoreThreshold = 0.0, MaxDetections = 30, Fusion = FusionMethod.Reference with { Renormalise = false } };

        var results = detector.Detect(images.Items, Classes, settings);

        Assert.That(results, Has.Count.EqualTo(2));
        for (int image = 0; image < 2; image++)
        {
            var r = results[image];
            var (height, width) = (images.Items[image].Height, images.Items[image].Width);
            Assert.That(r.Count, Is.InRange(1, 30));
            Assert.That(r.Scores, Is.Ordered.Descending);
            Assert.That(r.Classes, Is.All.InRange(0, 3));
            for (int d = 0; d < r.Count; d++)
            {
                Assert.That(r.Boxes[d * 4], Is.InRange(0f, r.Boxes[d * 4 + 2]));
                Assert.That(r.Boxes[d * 4 + 2], Is.LessThanOrEqualTo(width));
                Assert.That(r.Boxes[d * 4 + 3], Is.LessThanOrEqualTo(height));
                Assert.That(r.Masks![d].Height, Is.EqualTo(height));
                Assert.That(r.Masks[d].Width, Is.EqualTo(width));
                // Fused = det^(1 - w) * vlm^w, w = 0.35 for base classes and 0.65 for novel ones.
                double w = Classes.IsNovel[r.Classes[d]] ? 0.65 : 0.35;
                Assert.That(r.Scores[d], Is.EqualTo(Math.Pow(r.DetectionScores[d], 1 - w) * Math.Pow(r.VlmScores[d], w)).Within(1e-5));
                for (int e = 0; e < d; e++)
                    if (r.Classes[e] == r.Classes[d])
                        Assert.That(Iou(r.Boxes.AsSpan(e * 4, 4), r.Boxes.AsSpan(d * 4, 4)), Is.LessThanOrEqualTo(0.5 + 1e-4), "per-class NMS");
            }
        }
    }

    [Test]
    public void ScoreSourcesRankByTheirOwnProbabilities()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(96, 96, 3));

        var detection = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Detection, PredictMasks = false })[0];
        var vlmOnly = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Vlm, PredictMasks = false })[0];

        Assert.That(detection.Scores, Is.EqualTo(detection.DetectionScores));
        Assert.That(vlmOnly.Scores, Is.EqualTo(vlmOnly.VlmScores));
        Assert.That(detection.Masks, Is.Null);
        // Unnormalised fusion with beta = 1 for an all-novel vocabulary is p_det^0 * p_vlm^1: exactly the VLM-only ranking.
        var allNovel = Vocabulary.AllNovel(Classes.Names);
        var fusedAsVlm = detector.Detect(images.Items, allNovel, new InferenceSettings
        {
            ScoreThreshold = 0, NovelVlmWeight = 1.0, PredictMasks = false, Fusion = FusionMethod.Reference with { Renormalise = false },
        })[0];
        Assert.That(fusedAsVlm.Scores, Is.EqualTo(vlmOnly.Scores));
        Assert.That(fusedAsVlm.Classes, Is.EqualTo(vlmOnly.Classes));
    }

    [Test]
    public void SettingsDetectedTogetherEqualEachDetectedAloneAndStagesAreTimed()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(80, 96, 5), TinyModels.RandomImage(64, 48, 6));
        InferenceSettings[] settings =
        [
            new() { ScoreThreshold = 0, MaxDetections = 40 },
            new() { ScoreThreshold = 0, MaxDetections = 25, ScoreSource = DetectionScoreSource.Detection },
            new() { ScoreThreshold = 0.01, MaxDetections = 40, ScoreSource = DetectionScoreSource.Vlm, PredictMasks = false },
            new() { ScoreThreshold = 0, MaxDetections = 40, Fusion = FusionMethod.Unnormalised },
            new() { ScoreThreshold = 0, MaxDetections = 40, Fusion = FusionMethod.Reference with { ObjectnessWeight = 0.5 }, PredictMasks = false },
        ];
        var timings = new InferenceTimings();

        var together = detector.Detect(images.Items, Classes, settings, timings);

        for (int s = 0; s < settings.Length; s++)
        {
            var alone = detector.Detect(images.Items, Classes, settings[s]);
            for (int i = 0; i < images.Items.Count; i++)
            {
                var (a, b) = (together[s][i], alone[i]);
                Assert.That(a.Count, Is.GreaterThan(0), $"settings {s}, image {i}");
                Assert.That(a.Boxes, Is.EqualTo(b.Boxes), $"settings {s}, image {i}");
                Assert.That(a.Classes, Is.EqualTo(b.Classes));
                Assert.That(a.Scores, Is.EqualTo(b.Scores));
                Assert.That(a.Masks?.Select(CocoMask.ToCompressedString), Is.EqualTo(b.Masks?.Select(CocoMask.ToCompressedString)));
            }
        }
        Assert.That(together[2][0].Masks, Is.Null);
        Assert.That(timings.Images, Is.EqualTo(2));
        foreach (var stage in Enum.GetValues<InferenceStage>().Where(s => s != InferenceStage.Graph))
            Assert.That(timings[stage], Is.GreaterThan(TimeSpan.Zero), stage.ToString());
        Assert.That(timings[InferenceStage.Graph], Is.EqualTo(TimeSpan.Zero), "the TorchSharp path runs no graph of the whole detector");
    }

    [Test]
    public void TheVlmScoringTheProposalsDoesNotDependOnTheBoxDeltas()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(96, 96, 8));
        // Every (box, class) pair, none suppressed (NMS suppresses above IoU 1 only), ranked by the VLM alone.
        InferenceSettings[] settings = [.. new[] { VlmScoredBoxes.Proposals, VlmScoredBoxes.RefinedBoxes }.Select(boxes => new InferenceSettings
        {
            ScoreThreshold = 0, NmsThreshold = 1, MaxDetections = 1_000_000, ScoreSource = DetectionScoreSource.Vlm, PredictMasks = false,
            Fusion = FusionMethod.Reference with { VlmBoxes = boxes },
        })];
        static float[] Sorted(ImageDetections d) => [.. d.Scores.Order()];

        var deltas = detector.Head.named_parameters().Where(p => p.name.StartsWith("roi_heads.box_head.deltas.", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter);
        Assert.That(deltas.Keys, Is.EquivalentTo(new[] { "roi_heads.box_head.deltas.weight", "roi_heads.box_head.deltas.bias" }));
        using (no_grad())
        {
            // Every box moved by a third of its width, half its height, and resized (the coder's weights are 10, 10, 5, 5).
            deltas["roi_heads.box_head.deltas.weight"].zero_();
            deltas["roi_heads.box_head.deltas.bias"].copy_(tensor(new float[] { 3, 5, 2, -1.5f }));
        }
        var moved = detector.Detect(images.Items, Classes, settings);
        using (no_grad()) deltas["roi_heads.box_head.deltas.bias"].zero_();
        var unmoved = detector.Detect(images.Items, Classes, settings);

        Assert.That(moved[0][0].Count, Is.EqualTo(unmoved[0][0].Count).And.GreaterThan(100));
        Assert.That(moved[0][0].Boxes, Is.Not.EqualTo(unmoved[0][0].Boxes), "the deltas moved the output boxes");
        // The VLM's scores of the moved boxes differ from the proposals'.
        Assert.That(Sorted(moved[1][0]), Is.Not.EqualTo(Sorted(moved[0][0])).Within(1e-4));
        Assert.That(Sorted(unmoved[0][0]), Is.EqualTo(Sorted(moved[0][0])), "on the proposals the deltas do not matter");
        Assert.That(Sorted(unmoved[1][0]), Is.EqualTo(Sorted(unmoved[0][0])).Within(1e-5), "with zero deltas the refined boxes are the proposals");
    }

    [Test]
    public void SettingsOfOnePassMustShareTheRegionScales()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(80, 96, 7));
        var scaled = new RegionScaling([1.0, 2.0], 64, 0.5);
        InferenceSettings[] settings =
        [
            new() { ScoreThreshold = 0, RegionScaling = scaled },
            new() { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Vlm },
        ];
        var error = Assert.Throws<ArgumentException>(() => detector.Detect(images.Items, Classes, settings));
        Assert.That(error!.Message, Does.Contain("RegionScaling"));

        // The VLM's scores change with the scales, the detector's do not.
        var vlmAtOne = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Vlm, PredictMasks = false })[0];
        var vlmScaled = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Vlm, PredictMasks = false, RegionScaling = scaled })[0];
        Assert.That(vlmScaled.Scores, Is.Not.EqualTo(vlmAtOne.Scores));
        var detectionAtOne = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Detection, PredictMasks = false })[0];
        var detectionScaled = detector.Detect(images.Items, Classes, new InferenceSettings { ScoreThreshold = 0, ScoreSource = DetectionScoreSource.Detection, PredictMasks = false, RegionScaling = scaled })[0];
        Assert.That(detectionScaled.Scores, Is.EqualTo(detectionAtOne.Scores));
        Assert.That(detectionScaled.Boxes, Is.EqualTo(detectionAtOne.Boxes));
    }

    [Test]
    public void BadVocabularyIsRejected()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = NewDetector(vlm);
        using var images = new DisposableImages(TinyModels.RandomImage(64, 64, 4));
        var error = Assert.Throws<ArgumentException>(() => detector.Detect(images.Items, Vocabulary.AllNovel(["ring", "ring"]), new InferenceSettings()));
        Assert.That(error!.Message, Does.Contain("'ring'").And.Contain("more than once"));
    }

    internal static OpenVocabularyDetector NewDetector(FrozenVlm vlm)
    {
        TorchSharp.torch.manual_seed(5);
        var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        return new OpenVocabularyDetector(vlm, head, imageSize: 64);
    }

    private static double Iou(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double w = Math.Min(a[2], b[2]) - Math.Max(a[0], b[0]), h = Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]);
        if (w <= 0 || h <= 0) return 0;
        double inter = w * h, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        return inter / union;
    }

    internal sealed class DisposableImages(params MLImage[] images) : IDisposable
    {
        public IReadOnlyList<MLImage> Items { get; } = images;

        public void Dispose()
        {
            foreach (var image in Items) image.Dispose();
        }
    }
}

public class OpenVocabularyDetectorConcurrencyTests
{
    [TestCase(false)]
    [TestCase(true)]
    public void EightThreadsGiveTheSameOutputsAsOne(bool severalRegionScales)
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var detector = OpenVocabularyDetectorTests.NewDetector(vlm);
        var vocabulary = new Vocabulary(["ring", "circle", "square"], [false, false, true]);
        var settings = new InferenceSettings
        {
            ScoreThreshold = 0.0, MaxDetections = 25,
            RegionScaling = severalRegionScales ? new RegionScaling([0.5, 1.0, 2.0], 32, 0.5) : RegionScaling.Single,
        };
        using var images = new OpenVocabularyDetectorTests.DisposableImages(
            Enumerable.Range(0, 4).Select(i => TinyModels.RandomImage(64 + 16 * i, 96, 30 + i)).ToArray());
        var expected = images.Items.Select(image => detector.Detect([image], vocabulary, settings)[0]).ToArray();

        var actual = new ImageDetections[8][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
        {
            // Each thread walks the images in its own order, so calls really overlap on different inputs.
            var results = new ImageDetections[images.Items.Count];
            for (int k = 0; k < images.Items.Count; k++)
            {
                int i = (k + thread) % images.Items.Count;
                results[i] = detector.Detect([images.Items[i]], vocabulary, settings)[0];
            }
            actual[thread] = results;
        });

        for (int thread = 0; thread < 8; thread++)
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.That(actual[thread][i].Classes, Is.EqualTo(expected[i].Classes), $"thread {thread}, image {i}");
                Assert.That(actual[thread][i].Scores, Is.EqualTo(expected[i].Scores), $"thread {thread}, image {i}");
                Assert.That(actual[thread][i].Boxes, Is.EqualTo(expected[i].Boxes), $"thread {thread}, image {i}");
                Assert.That(actual[thread][i].Masks!.Select(CocoMask.ToCompressedString), Is.EqualTo(expected[i].Masks!.Select(CocoMask.ToCompressedString)));
            }
    }
}
