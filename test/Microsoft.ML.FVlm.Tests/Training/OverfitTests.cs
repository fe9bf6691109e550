using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Training;

namespace Microsoft.ML.FVlm.Tests.Training;

/// <summary>
/// The whole training path learns: a small head trained on 8 Shapes scenes with the shipped Shapes
/// VLM must detect the objects of those scenes (box AP50 with detection-only scores, base classes).
/// </summary>
[NonParallelizable]
public class OverfitTests
{
    private const int ImageSize = 256;
    private const int Steps = 300;

    // Measured: AP50 0.973 (AP 0.787) in 2 min 23 s, total loss 15.5 -> 0.13. Horizontal flip is off:
    // with one augmentation variant per image, a flip would show half the scenes only mirrored, and
    // the evaluation is on the originals (with the flip on: AP50 0.31 at 128 px, 0.48 at 256 px). At
    // 128 px without flip: AP50 0.84, the smallest objects being a few pixels across.
    [Test]
    public void TheHeadOverfitsEightScenes()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-overfit-{Guid.NewGuid():N}");
        try
        {
            new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 8, Seed = 5, ImageSize = ImageSize, MaxInstances = 4 }).Generate(folder);
            var dataset = CocoJson.ReadDataset(Path.Combine(folder, ShapesGenerator.AnnotationFileName(ShapesSplit.TrainBase)));
            var baseCategories = dataset.Categories.Where(c => c.Frequency != "r").OrderBy(c => c.Id).ToArray();
            var ml = new MLContext(seed: 0);
            var data = ml.Data.LoadFromCocoDataset(dataset, folder, new CocoLoaderOptions { CategoryIds = baseCategories.Select(c => c.Id).ToArray() });
            var estimator = ml.Transforms.DetectObjectsOpenVocabulary(new FVlmOptions
            {
                VlmFolder = ShapesVlm.Folder, ImageSize = ImageSize, Steps = Steps, BatchSize = 4, WarmupSteps = 20, LearningRate = 0.02,
                PyramidChannels = 32, HeadConvChannels = 32, BoxHeadFcDim = 128, RoiSamplesPerImage = 128,
                MinJitterScale = 1.0, MaxJitterScale = 1.0, AugmentationVariants = 1, HorizontalFlip = false,
            });
            var losses = new List<TrainingProgress>();
            estimator.Progress = new SyncProgress(losses.Add);
            using var model = estimator.Fit(data);

            var vocabulary = new Vocabulary(baseCategories.Select(c => c.Name).ToArray(), baseCategories.Select(_ => false).ToArray());
            var images = dataset.Images.Select(i => MLImage.CreateFromFile(Path.Combine(folder, i.FileName))).ToArray();
            var settings = new InferenceSettings { ScoreSource = DetectionScoreSource.Detection, ScoreThreshold = 1e-3 };
            var detections = model.Model.Detector.Detect(images, vocabulary, settings);
            foreach (var image in images) image.Dispose();
            var results = dataset.Images.SelectMany((image, i) => OpenVocabularyEvaluator.ToResults(image.Id, detections[i], baseCategories)).ToList();
            var metrics = ml.EvaluateDetections(results, dataset, new DetectionEvaluationOptions());
            var maskMetrics = ml.EvaluateDetections(results, dataset, new DetectionEvaluationOptions { IouType = DetectionIouType.Segmentation });

            string trace = $"losses at steps 1 / {Steps}: {losses[0].Losses["total"]:F3} / {losses[^1].Losses["total"]:F3}; AP {metrics.AveragePrecision:F3}; mask AP50 {maskMetrics.AveragePrecision50:F3}, AP {maskMetrics.AveragePrecision:F3}";
            TestContext.Progress.WriteLine($"overfit: AP50 {metrics.AveragePrecision50:F3}, {trace}");
            Assert.That(metrics.AveragePrecision50, Is.GreaterThanOrEqualTo(0.9), trace);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
