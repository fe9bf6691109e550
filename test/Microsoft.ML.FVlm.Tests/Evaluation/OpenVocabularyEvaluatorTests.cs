using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>
/// The open-vocabulary table's results, handed out per score source (what <c>fvlm eval --detections</c>
/// writes), are the ones the table was computed from: evaluated again on their own they give its figures.
/// </summary>
[NonParallelizable]
public class OpenVocabularyEvaluatorTests
{
    [Test]
    public void TheResultsOfEachSourceGiveTheTablesFigures()
    {
        using var scenes = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 4, Seed = 33, ImageSize = 320 }, "ov-eval");
        var groundTruth = scenes.ReadDataset();
        using var detector = (FVlmTransformer)new MLContext().Model.Load(ShapesDetector.ModelFile, out _);

        var handedOut = new List<(string Source, IReadOnlyList<CocoAnnotation> Results)>();
        var table = OpenVocabularyEvaluator.Evaluate(detector, groundTruth, scenes.Folder, regionScaling: Microsoft.ML.FVlm.Vlm.RegionScaling.Single,
            sourceResults: (source, results) => handedOut.Add((source, results)));

        Assert.That(handedOut.Select(h => h.Source), Is.EqualTo(new[] { "detection", "vlm", "fused" }));
        var imageIds = groundTruth.Images.Select(i => i.Id).ToHashSet();
        var novelIds = groundTruth.Categories.Where(c => !detector.BaseClassNames.Contains(c.Name)).Select(c => c.Id).ToArray();
        var mlContext = new MLContext();
        foreach (var (source, results) in handedOut)
        {
            Assert.That(results, Is.Not.Empty, source);
            Assert.That(results.All(r => imageIds.Contains(r.ImageId) && r.Segmentation is not null), source);
            foreach (var (iouName, iouType) in new[] { ("bbox", DetectionIouType.BoundingBox), ("segm", DetectionIouType.Segmentation) })
            {
                var metrics = mlContext.EvaluateDetections(results, groundTruth, new DetectionEvaluationOptions
                {
                    IouType = iouType, Protocol = DetectionEvaluationProtocol.Lvis, NovelCategoryIds = novelIds,
                });
                var figures = table[iouName][source];
                Assert.That(metrics.AveragePrecision, Is.EqualTo(figures.All), $"{source} {iouName}");
                Assert.That(metrics.AveragePrecisionBase, Is.EqualTo(figures.Base), $"{source} {iouName}");
            }
        }
        Assert.That(handedOut[0].Results.Select(r => r.Score), Is.Not.EqualTo(handedOut[2].Results.Select(r => r.Score)),
            "detection-only and fused scores differ");
    }
}
