using Microsoft.ML;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;

namespace Samples;

/// <summary>Trains the detector head on a COCO-format dataset (base categories only) and detects a novel class with it.</summary>
public static class TrainOnACocoDataset
{
    public static void Example()
    {
        var mlContext = new MLContext(seed: 0);
        // Any COCO / LVIS JSON with its image folder; here 16 scenes of the Shapes world's train-base split.
        string folder = Path.Combine(Path.GetTempPath(), "fvlm-sample-train");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 16, Seed = 3, ImageSize = 160 }).Generate(folder);
        // The Label column's key values are the base classes. An open-vocabulary split (LVIS style) lists
        // its novel categories too, as rare ("r") and never annotated: keep them out of the key space.
        var dataset = CocoJson.ReadDataset(Path.Combine(folder, "train-base.json"));
        IDataView train = mlContext.Data.LoadFromCocoDataset(dataset, folder, new CocoLoaderOptions
        {
            CategoryIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray(),
        });  // Image, Label, BoundingBoxes, Masks

        // A short run with a small head (the defaults train for about 25 minutes on 2 cores).
        var estimator = mlContext.Transforms.DetectObjectsOpenVocabulary(new FVlmOptions
        {
            VlmFolder = ShapesVlm.Folder,
            NovelClassNames = ["hexagon"],
            ImageSize = 160, Steps = 40, BatchSize = 4, WarmupSteps = 10,
            PyramidChannels = 32, HeadConvChannels = 32, BoxHeadFcDim = 128,
        });
        var losses = new List<float>();
        estimator.Progress = new Progress(p => losses.Add(p.Losses["total"]));
        using FVlmTransformer detector = estimator.Fit(train);

        Console.WriteLine($"total loss: step 1 {losses[0]:F2}, step {losses.Count} {losses[^1]:F2}");
        Console.WriteLine($"base classes: {detector.BaseClassNames.Count}; vocabulary: {detector.Vocabulary.Names.Count} (novel: {string.Join(", ", detector.Vocabulary.Names.Where((n, i) => detector.Vocabulary.IsNovel[i]))})");
        Directory.Delete(folder, recursive: true);

        // Expected output:
        //   total loss: step 1 16.38, step 40 3.91
        //   base classes: 35; vocabulary: 36 (novel: hexagon)
    }

    /// <summary>Reports on the training thread (System.Progress would post to the thread pool).</summary>
    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
