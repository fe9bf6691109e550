using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Modeling;
using Microsoft.ML.FVlm.Tests.Vlm;
using Microsoft.ML.FVlm.Training;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Training;

/// <summary>The training loop on a few Shapes scenes with the tiny random VLM.</summary>
[NonParallelizable]
public class DetectorTrainerTests
{
    private static string s_folder = "";
    private static IDataView? s_data;
    private static string[] s_classes = [];

    [OneTimeSetUp]
    public void RenderScenes()
    {
        s_folder = Path.Combine(Path.GetTempPath(), $"fvlm-trainer-{Guid.NewGuid():N}");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 8, Seed = 3, ImageSize = 128, MaxInstances = 4 }).Generate(s_folder);
        var json = Path.Combine(s_folder, ShapesGenerator.AnnotationFileName(ShapesSplit.TrainBase));
        var dataset = CocoJson.ReadDataset(json);
        var baseIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray();
        s_classes = dataset.Categories.Where(c => c.Frequency != "r").OrderBy(c => c.Id).Select(c => c.Name).ToArray();
        s_data = new MLContext(seed: 0).Data.LoadFromCocoDataset(dataset, s_folder, new CocoLoaderOptions { CategoryIds = baseIds });
    }

    [OneTimeTearDown]
    public void DeleteScenes() => Directory.Delete(s_folder, recursive: true);

    // F-VLM's jitter and mask loss weight rather than the estimator's CPU defaults: the tests were sized on them.
    private static TrainingSettings Settings(int steps) => TrainingSettings.Default with
    {
        ImageSize = 128, BatchSize = 4, Steps = steps, LearningRate = 0.01, WarmupSteps = 2, AugmentationVariants = 2, Seed = 11,
        MinJitterScale = 0.1, MaxJitterScale = 2.0, MaskLossWeight = 1,
    };

    [Test]
    public void LossFallsAndFeaturesComeFromTheCache()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        manual_seed(1);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        var reports = new List<TrainingProgress>();

        new DetectorTrainer(vlm, Settings(24), new TrainingColumns()).Train(head, s_data!, s_classes, new SyncProgress(reports.Add));

        Assert.That(reports, Has.Count.EqualTo(24));
        Assert.That(reports[^1].Losses.Keys, Is.SupersetOf(new[] { "rpn_objectness", "rpn_box", "classification", "box", "mask", "total" }));
        double first = reports.Take(4).Average(r => r.Losses["total"]), last = reports.TakeLast(4).Average(r => r.Losses["total"]);
        Assert.That(last, Is.LessThan(first * 0.8), $"mean total loss of the first 4 steps {first}, of the last 4 {last}");
        // 8 images x 2 variants: at most 16 misses in 96 lookups.
        Assert.That(reports[^1].CacheHitRate, Is.GreaterThanOrEqualTo(80.0 / 96 - 1e-9));
    }

    [Test]
    public void ResumingFromACheckpointGivesTheSameWeights()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        string checkpoints = Path.Combine(s_folder, "checkpoints");

        manual_seed(2);
        using var uninterrupted = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        new DetectorTrainer(vlm, Settings(6) with { CheckpointEvery = 3, CheckpointFolder = checkpoints }, new TrainingColumns()).Train(uninterrupted, s_data!, s_classes);

        manual_seed(99); // different initial weights: everything must come from the checkpoint
        using var resumed = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        new DetectorTrainer(vlm, Settings(6) with { ResumeFrom = Path.Combine(checkpoints, "checkpoint-0000003.bin"), CacheFeatures = false }, new TrainingColumns())
            .Train(resumed, s_data!, s_classes);

        var expected = uninterrupted.state_dict();
        var actual = resumed.state_dict();
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        var differing = expected.Where(p => !actual[p.Key].eq(p.Value).all().item<bool>())
            .Select(p => $"{p.Key} (max |diff| {(actual[p.Key].to(ScalarType.Float64) - p.Value.to(ScalarType.Float64)).abs().max().item<double>():E2})").ToList();
        Assert.That(differing, Is.Empty, "tensors that differ after resuming");
    }

    [Test]
    public void ResumingFromAnotherArchitectureNamesTheTensorAndTheOption()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        string checkpoint = WriteCheckpoint(vlm, "other-architecture");

        using var narrow = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture with { BoxHeadFcDim = 24 });
        var error = Assert.Throws<InvalidDataException>(() =>
            new DetectorTrainer(vlm, Settings(2) with { ResumeFrom = checkpoint }, new TrainingColumns()).Train(narrow, s_data!, s_classes));
        // Tiny architecture: 16 conv channels pooled 7x7 into a 32-wide fc.
        Assert.That(error!.Message, Does.Contain($"'{checkpoint}'").And.Contain("'roi_heads.box_head.fc.weight' is [32, 784] in the checkpoint and [24, 784] here"));
        Assert.That(error.Message, Does.Contain("BoxHeadFcDim is 32 in the checkpoint and 24 here"));

        // A tensor the checkpoint does not have at all: the mask head's pixel branch.
        using var withPixels = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture with { MaskPixelChannels = 4 });
        error = Assert.Throws<InvalidDataException>(() =>
            new DetectorTrainer(vlm, Settings(2) with { ResumeFrom = checkpoint }, new TrainingColumns()).Train(withPixels, s_data!, s_classes));
        Assert.That(error!.Message, Does.Contain($"'{checkpoint}'").And.Contain("'roi_heads.mask_head.pixel_conv.weight'"));
        Assert.That(error.Message, Does.Contain("MaskPixelChannels is 0 in the checkpoint and 4 here"));
    }

    [Test]
    public void ResumingFromATruncatedCheckpointNamesTheFile()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        string checkpoint = WriteCheckpoint(vlm, "truncated");
        byte[] bytes = File.ReadAllBytes(checkpoint);
        // In the header, in the head's weights, in the optimiser's state, and one byte short.
        foreach (int length in new[] { 10, bytes.Length / 3, bytes.Length * 3 / 4, bytes.Length - 1 })
        {
            string truncated = Path.Combine(s_folder, $"truncated-{length}.bin");
            File.WriteAllBytes(truncated, bytes[..length]);
            using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
            var error = Assert.Throws<InvalidDataException>(() =>
                new DetectorTrainer(vlm, Settings(2) with { ResumeFrom = truncated }, new TrainingColumns()).Train(head, s_data!, s_classes), $"{length} of {bytes.Length} bytes");
            Assert.That(error!.Message, Does.Contain($"'{truncated}'").And.Contain($"is truncated: {length} bytes"), $"{length} of {bytes.Length} bytes");
        }
    }

    /// <summary>Trains the tiny head one step with a checkpoint after it; returns the checkpoint's path.</summary>
    private static string WriteCheckpoint(FrozenVlm vlm, string folder)
    {
        string checkpoints = Path.Combine(s_folder, folder);
        manual_seed(5);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        new DetectorTrainer(vlm, Settings(1) with { CheckpointEvery = 1, CheckpointFolder = checkpoints }, new TrainingColumns()).Train(head, s_data!, s_classes);
        return Path.Combine(checkpoints, "checkpoint-0000001.bin");
    }

    [Test]
    public void GradientsAreClippedToTheGlobalNorm()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        manual_seed(4);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        var before = head.parameters().Select(p => p.detach().clone()).ToArray();
        var reports = new List<TrainingProgress>();
        const double clip = 1e-3;
        // One plain SGD step (no warm-up, no weight decay, first momentum step = the gradient): the
        // weights move by exactly the learning rate times the clipped gradient.
        new DetectorTrainer(vlm, Settings(1) with { LearningRate = 1, WarmupSteps = 0, WeightDecay = 0, GradientClipNorm = clip }, new TrainingColumns())
            .Train(head, s_data!, s_classes, new SyncProgress(reports.Add));

        double moved = Math.Sqrt(head.parameters().Zip(before).Sum(p => (p.First.detach() - p.Second).to(ScalarType.Float64).pow(2).sum().item<double>()));
        Assert.That(reports[0].GradientNorm, Is.GreaterThan(10 * clip), "the gradient norm before clipping");
        Assert.That(moved, Is.EqualTo(clip).Within(1e-3 * clip + 1e-9), "global norm of the weight update");
    }

    [Test]
    public void MaskLossWeightScalesTheMaskLossInTheTotal()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        TrainingProgress FirstStep(double weight)
        {
            manual_seed(4);
            using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
            var reports = new List<TrainingProgress>();
            new DetectorTrainer(vlm, Settings(1) with { MaskLossWeight = weight }, new TrainingColumns()).Train(head, s_data!, s_classes, new SyncProgress(reports.Add));
            return reports[0];
        }
        var (one, three) = (FirstStep(1), FirstStep(3));

        // Same weights and batch at the first step: the same losses, and a total larger by twice the mask loss.
        Assert.That(one.Losses["mask"], Is.GreaterThan(0.1f));
        Assert.That(three.Losses["mask"], Is.EqualTo(one.Losses["mask"]));
        Assert.That(three.Losses["total"] - one.Losses["total"], Is.EqualTo(2 * one.Losses["mask"]).Within(1e-4));
        Assert.That(three.GradientNorm, Is.Not.EqualTo(one.GradientNorm), "the weight reaches the gradients");
    }

    [Test]
    public void NonFiniteLossStopsWithTheStepAndTheLoss()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        manual_seed(3);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        var error = Assert.Throws<InvalidOperationException>(() =>
            new DetectorTrainer(vlm, Settings(30) with { LearningRate = 1e12, WarmupSteps = 0 }, new TrainingColumns()).Train(head, s_data!, s_classes));
        // Whichever turns non-finite first: a loss (named), or the gradient norm (with every loss listed).
        Assert.That(error!.Message, Does.Match(@"at step \d+: (loss '\w+'|the gradient norm) is (NaN|∞|-∞|Infinity|-Infinity)"));
    }

    [Test]
    public void BatchLargerThanTheDataIsNamed()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        var error = Assert.Throws<InvalidOperationException>(() =>
            new DetectorTrainer(vlm, Settings(2) with { BatchSize = 9 }, new TrainingColumns()).Train(head, s_data!, s_classes));
        Assert.That(error!.Message, Does.Contain("BatchSize (9)").And.Contain("(8)"));
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (System.Progress posts to a synchronisation context).</summary>
internal sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
