using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>
/// The open-vocabulary table's results, handed out per score source (what <c>fvlm evaluate-model --detections</c>
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

    [Test]
    public void EachFusionMethodIsARowOfItsOwnAndTheModelsOwnIsTheFusedRow()
    {
        using var scenes = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 3, Seed = 34, ImageSize = 320 }, "ov-eval-fusion");
        var groundTruth = scenes.ReadDataset();
        using var detector = (FVlmTransformer)new MLContext().Model.Load(ShapesDetector.ModelFile, out _);
        var own = detector.InferenceSettings.Fusion;

        var perMethod = new Dictionary<string, IReadOnlyList<CocoAnnotation>>();
        var table = OpenVocabularyEvaluator.Evaluate(detector, groundTruth, scenes.Folder, regionScaling: Microsoft.ML.FVlm.Vlm.RegionScaling.Single,
            sourceResults: (source, results) => perMethod.Add(source, results), fusionMethods: FusionMethod.All);
        var ownOnly = new Dictionary<string, IReadOnlyList<CocoAnnotation>>();
        OpenVocabularyEvaluator.Evaluate(detector, groundTruth, scenes.Folder, regionScaling: Microsoft.ML.FVlm.Vlm.RegionScaling.Single,
            sourceResults: (source, results) => ownOnly.Add(source, results));

        string[] fusedRows = [.. FusionMethod.All.Select(m => "fused-" + m.Name)];
        Assert.That(fusedRows, Is.EqualTo(new[] { "fused-renormalised-proposals", "fused-renormalised-refined", "fused-unnormalised-proposals", "fused-unnormalised-refined" }));
        Assert.That(perMethod.Keys, Is.EqualTo(new[] { "detection", "vlm" }.Concat(fusedRows)));
        Assert.That(table["segm"].Keys, Is.EqualTo(perMethod.Keys));
        Assert.That(perMethod["fused-" + own.Name].Select(r => (r.ImageId, r.CategoryId, r.Score)), Is.EqualTo(ownOnly["fused"].Select(r => (r.ImageId, r.CategoryId, r.Score))),
            "the model's own method gives the default run's fused results");
        Assert.That(perMethod["vlm"].Select(r => r.Score), Is.EqualTo(ownOnly["vlm"].Select(r => r.Score)));
        for (int a = 0; a < fusedRows.Length; a++)
            for (int b = a + 1; b < fusedRows.Length; b++)
                Assert.That(perMethod[fusedRows[a]].Select(r => r.Score), Is.Not.EqualTo(perMethod[fusedRows[b]].Select(r => r.Score)), $"{fusedRows[a]} and {fusedRows[b]}");

        Assert.Throws<ArgumentException>(() => OpenVocabularyEvaluator.Evaluate(detector, groundTruth, scenes.Folder, fusionMethods: [FusionMethod.Reference, FusionMethod.Reference]));
    }
}
