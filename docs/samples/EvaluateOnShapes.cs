using Microsoft.ML;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Shapes;

namespace Samples;

/// <summary>Scores a COCO / LVIS-format dataset and evaluates boxes and masks with the LVIS protocol, novel and base apart.</summary>
public static class EvaluateOnShapes
{
    public static void Example()
    {
        var mlContext = new MLContext();
        string folder = Path.Combine(Path.GetTempPath(), "fvlm-sample-evaluate");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 20, Seed = 99 }).Generate(folder);
        var groundTruth = CocoJson.ReadDataset(Path.Combine(folder, "val.json"));

        using var shipped = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out _);
        // The ground truth's categories as vocabulary: those the head was not trained on are novel.
        using var detector = shipped.WithVocabulary(groundTruth.Categories.OrderBy(c => c.Id).Select(c => c.Name).ToArray());
        IDataView images = mlContext.Data.LoadFromCocoDataset(groundTruth, folder);  // Image, ImageId, Label, ...
        IDataView scored = detector.Transform(images);

        var novelIds = groundTruth.Categories.Where(c => !shipped.BaseClassNames.Contains(c.Name)).Select(c => c.Id).ToArray();
        foreach (var iouType in new[] { DetectionIouType.BoundingBox, DetectionIouType.Segmentation })
        {
            var metrics = mlContext.EvaluateDetections(scored, groundTruth, new DetectionEvaluationOptions
            {
                IouType = iouType, Protocol = DetectionEvaluationProtocol.Lvis, NovelCategoryIds = novelIds,
            });
            Console.WriteLine($"{iouType}: AP {metrics.AveragePrecision:F3}, AP50 {metrics.AveragePrecision50:F3}, novel {metrics.AveragePrecisionNovel:F3}, base {metrics.AveragePrecisionBase:F3}");
        }
        Directory.Delete(folder, recursive: true);

        // Expected output (the shipped detector, fused scores, 100 detections per image):
        //   BoundingBox: AP 0.547, AP50 0.784, novel 0.573, base 0.540
        //   Segmentation: AP 0.432, AP50 0.655, novel 0.351, base 0.453
    }
}
