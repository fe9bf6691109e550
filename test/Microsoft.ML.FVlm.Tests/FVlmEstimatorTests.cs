using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Persistence;

namespace Microsoft.ML.FVlm.Tests;

/// <summary>
/// The estimator and transformer as an ML.NET user meets them (after ML.NET's TestEstimatorCore):
/// schema propagation, bad input, fit, transform, save, load in another process, same output.
/// Tiny random VLM and a tiny head on a few Shapes scenes, so the figures are not the point.
/// </summary>
[NonParallelizable]
public class FVlmEstimatorTests
{
    private static readonly string[] Novel = ["hexagon", "gear"];
    private string _folder = "";
    private MLContext _ml = null!;
    private IDataView _train = null!;
    private FVlmTransformer _model = null!;

    [OneTimeSetUp]
    public void FitOnce()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"fvlm-estimator-{Guid.NewGuid():N}");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 6, Seed = 4, ImageSize = 96, MaxInstances = 3 }).Generate(_folder);
        var dataset = CocoJson.ReadDataset(Path.Combine(_folder, "train-base.json"));
        _ml = new MLContext(seed: 1);
        _train = _ml.Data.LoadFromCocoDataset(dataset, _folder, new CocoLoaderOptions
        {
            CategoryIds = dataset.Categories.Where(c => c.Frequency != "r").Select(c => c.Id).ToArray(),
        });
        _model = Estimator().Fit(_train);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        _model?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private FVlmEstimator Estimator(Action<FVlmOptions>? edit = null)
    {
        var options = new FVlmOptions
        {
            VlmFolder = TinyModels.VlmFolder, ImageSize = 96, Steps = 4, BatchSize = 3, WarmupSteps = 1,
            PyramidChannels = 16, HeadConvChannels = 16, BoxHeadFcDim = 32, AnchorSizes = [16, 32, 64, 128, 256],
            NovelClassNames = Novel, ScoreThreshold = 0.0, MaxDetections = 20, InferenceBatchSize = 2,
        };
        edit?.Invoke(options);
        return _ml.Transforms.DetectObjectsOpenVocabulary(options);
    }

    [Test]
    public void OutputSchemaOfEstimatorMatchesTheTransformersOutput()
    {
        var shape = Estimator().GetOutputSchema(Microsoft.ML.FVlm.Persistence.SchemaShapeColumns.FromSchema(_train.Schema));
        var actual = _model.GetOutputSchema(_train.Schema);
        foreach (string name in new[] { "PredictedLabel", "Score", "PredictedBoundingBoxes", "PredictedMasks", "Image", "Label" })
        {
            var column = shape.Last(c => c.Name == name);
            var expected = Microsoft.ML.FVlm.Persistence.SchemaShapeColumns.FromSchema(actual).First(c => c.Name == name);
            Assert.That(column.Kind, Is.EqualTo(expected.Kind), name);
            Assert.That(column.IsKey, Is.EqualTo(expected.IsKey), name);
            Assert.That(column.ItemType, Is.EqualTo(expected.ItemType), name);
        }
    }

    [Test]
    public void BadInputIsNamedInMLNetsWording()
    {
        var withoutLabel = _ml.Transforms.DropColumns("Label").Fit(_train).Transform(_train);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator().GetOutputSchema(Microsoft.ML.FVlm.Persistence.SchemaShapeColumns.FromSchema(withoutLabel.Schema)));
        Assert.That(error!.Message, Does.Contain("Could not find label column 'Label'"));

        error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.BoundingBoxColumnName = "ImagePath").Fit(_train));
        Assert.That(error!.Message, Does.Contain("Schema mismatch for bounding box column 'ImagePath': expected vector of Single, got String"));

        error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.ImageSize = 100));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.ImageSize must be a multiple of 32"));

        error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.MaskLossWeight = -1));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.MaskLossWeight must be zero or a positive number; got -1"));

        error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.GradientClipNorm = -1));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.GradientClipNorm must be zero (no clipping) or a positive number; got -1"));

        error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.RoiPositiveFraction = 0));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.RoiPositiveFraction must be in (0, 1]; got 0"));
        Assert.That(FVlmOptionsValidator.Architecture(new FVlmOptions { RoiPositiveFraction = 0.5 }).RoiHeads.PositiveFraction, Is.EqualTo(0.5), "the option reaches the RoI sampler");
    }

    [Test]
    public void NovelNamesThatAreBaseClassesOrRepeatedFailBeforeTraining()
    {
        string baseClass = InputColumns.ClassNames(_train.Schema, "Label")[0];
        var clash = Assert.Throws<ArgumentException>(() => Estimator(o => o.NovelClassNames = ["gear", baseClass]).Fit(_train));
        Assert.That(clash!.Message, Does.Contain($"NovelClassNames: '{baseClass}' is already a base class (a key value of column 'Label')"));

        var repeated = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.NovelClassNames = ["gear", "hexagon", "gear"]));
        Assert.That(repeated!.Message, Does.Contain("FVlmOptions.NovelClassNames must be distinct names; got 'gear' twice"));
    }

    [Test]
    public void NamesThatDifferOnlyInCaseOrWhiteSpaceAreOneClassOnEveryPath()
    {
        // CLIP lower-cases and collapses white space: these pairs tokenize identically and would split one object's score.
        var repeated = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.NovelClassNames = ["gear", "hexagon", " Gear"]));
        Assert.That(repeated!.Message, Does.Contain("FVlmOptions.NovelClassNames must be distinct names; got 'gear' (0) and ' Gear' (2), which CLIP tokenizes identically"));

        string baseClass = InputColumns.ClassNames(_train.Schema, "Label")[0];
        var estimator = Estimator(o => o.NovelClassNames = ["gear", baseClass.ToUpperInvariant() + " "]);
        var steps = new StepCounter();
        estimator.Progress = steps;
        var clash = Assert.Throws<ArgumentException>(() => estimator.Fit(_train));
        Assert.That(clash!.Message, Does.Contain($"NovelClassNames: '{baseClass.ToUpperInvariant()} ' is already a base class ('{baseClass}', a key value of column 'Label')"));
        Assert.That(steps.Count, Is.Zero, "rejected before training");

        var withVocabulary = Assert.Throws<ArgumentException>(() => _model.WithVocabulary(["circle", "square", "Circle"]));
        Assert.That(withVocabulary!.Message, Does.Contain("0 ('circle')").And.Contain("2 ('Circle')"));
    }

    private sealed class StepCounter : IProgress<TrainingProgress>
    {
        public int Count { get; private set; }

        public void Report(TrainingProgress value) => Count++;
    }

    [Test]
    public void ChangingEveryOptionAfterFitChangesNeitherTheDetectionsNorTheSavedZip()
    {
        FVlmOptions options = null!;
        // Its own arrays: the ones changed in place below must not be the class's shared Novel.
        var estimator = Estimator(o => { o.NovelClassNames = [.. Novel]; options = o; });
        var shape = estimator.GetOutputSchema(Microsoft.ML.FVlm.Persistence.SchemaShapeColumns.FromSchema(_train.Schema));
        using var model = estimator.Fit(_train);
        var detections = Flat(Read(model.Transform(_train)));
        var saved = SavedEntries(model, "before.zip");

        // Arrays in place first (a shallow copy would share them), then every field.
        options.AnchorSizes[0] = 1000;
        options.VlmRegionScales[0] = 3;
        options.NovelClassNames[0] = "changed";
        foreach (var field in typeof(FVlmOptions).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
            field.SetValue(options, field.GetValue(options) switch
            {
                string text => text + "-changed",
                null when field.FieldType == typeof(string) => "changed",
                null => 1, // int? GpuDeviceId
                bool flag => !flag,
                int number => number + 1,
                long number => number + 1,
                double number => number * 2 + 1,
                double[] numbers => numbers.Select(n => n + 1).ToArray(),
                string[] names => names.Select(n => n + "-changed").ToArray(),
                Enum value => Enum.GetValues(value.GetType()).Cast<Enum>().First(v => !v.Equals(value)),
                var other => throw new AssertionException($"the test does not change FVlmOptions.{field.Name} ({other.GetType().Name}): teach it"),
            });
        Assert.That(options.ScoreColumnName, Is.EqualTo("Score-changed"), "the premise: the caller's options did change");

        Assert.That(Flat(Read(model.Transform(_train))), Is.EqualTo(detections), "Transform");
        Assert.That(SavedEntries(model, "after.zip"), Is.EqualTo(saved), "the saved zip, entry by entry");
        Assert.That(estimator.GetOutputSchema(Microsoft.ML.FVlm.Persistence.SchemaShapeColumns.FromSchema(_train.Schema)).Select(c => c.Name),
            Is.EqualTo(shape.Select(c => c.Name)), "the estimator");
    }

    private static string[] Flat(List<DetectionRow> rows) =>
        rows.Select(r => $"{string.Join(' ', r.Labels)} | {string.Join(' ', r.Scores)} | {string.Join(' ', r.Boxes)} | {string.Join(' ', r.Masks)}").ToArray();

    private Dictionary<string, byte[]> SavedEntries(FVlmTransformer model, string name)
    {
        string zip = Path.Combine(_folder, name);
        _ml.Model.Save(model, _train.Schema, zip);
        using var archive = System.IO.Compression.ZipFile.OpenRead(zip);
        return archive.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
    }

    [Test]
    public void TransformGivesTheVocabularyAsKeyValuesAndConsistentColumns()
    {
        var output = _model.Transform(_train);
        VBuffer<ReadOnlyMemory<char>> names = default;
        output.Schema["PredictedLabel"].GetKeyValues(ref names);
        var vocabulary = names.DenseValues().Select(n => n.ToString()).ToArray();
        Assert.That(vocabulary[^2..], Is.EqualTo(Novel));
        Assert.That(vocabulary.Length, Is.EqualTo(_model.BaseClassNames.Count + 2));
        Assert.That(_model.Vocabulary.IsNovel.Count(n => n), Is.EqualTo(2));

        var rows = Read(output);
        Assert.That(rows, Has.Count.EqualTo(6));
        foreach (var row in rows)
        {
            Assert.That(row.Boxes, Has.Length.EqualTo(row.Labels.Length * 4));
            Assert.That(row.Scores, Has.Length.EqualTo(row.Labels.Length));
            Assert.That(row.Masks, Has.Length.EqualTo(row.Labels.Length));
            Assert.That(row.Labels, Is.All.InRange(1u, (uint)vocabulary.Length));
            foreach (string mask in row.Masks) Assert.That(CocoMask.FromCompressedString(mask, 96, 96).Height, Is.EqualTo(96));
        }
    }

    [Test]
    public void SavedModelLoadsInAnotherProcessWithIdenticalOutputs()
    {
        string zip = Path.Combine(_folder, "model.zip");
        _ml.Model.Save(_model, _train.Schema, zip);
        // Twenty scenes the model was not trained on.
        string scenes = Path.Combine(_folder, "unseen");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 20, Seed = 5, ImageSize = 96, MaxInstances = 3 }).Generate(scenes);
        var images = Directory.GetFiles(Path.Combine(scenes, "val"), "*.png").OrderBy(p => p).ToArray();
        Assert.That(images, Has.Length.EqualTo(20));

        var probe = ModelLoadProbe.RunDetect(zip, images);

        var expected = _model.Detect(images.Select(MLImage.CreateFromFile).ToArray()).Select(d => new ModelLoadProbe.Detections(
            d.Classes.Select(c => _model.Vocabulary.Names[c]).ToArray(), d.Scores, d.Boxes, d.Masks!.Select(CocoMask.ToCompressedString).ToArray())).ToArray();
        ModelLoadProbe.AssertDetections(probe, expected);
    }

    [Test]
    public void LoadedModelAcceptsANewVocabularyAndWorksInAPredictionEngine()
    {
        string zip = Path.Combine(_folder, "model-vocabulary.zip");
        _ml.Model.Save(_model, _train.Schema, zip);
        using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
        Assert.That(loaded.Vocabulary.Names, Is.EqualTo(_model.Vocabulary.Names));

        using var custom = loaded.WithVocabulary(["circle", "lightning bolt", "red arrow"]);
        Assert.That(custom.Vocabulary.IsNovel, Is.EqualTo(new[] { false, true, true }), "base names stay base; the rest are novel");
        var rows = Read(custom.Transform(_train));
        Assert.That(rows.SelectMany(r => r.Labels), Is.All.InRange(1u, 3u));

        var engine = _ml.Model.CreatePredictionEngine<ImageInput, Prediction>(custom);
        using var image = MLImage.CreateFromFile(Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().First());
        var prediction = engine.Predict(new ImageInput { Image = image });
        var direct = custom.Detect([image])[0];
        Assert.That(prediction.Score, Is.EqualTo(direct.Scores));
    }

    [Test]
    public void AThresholdThatKeepsNothingReportsTheHighestScoreItDropped()
    {
        using var image = MLImage.CreateFromFile(Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().First());
        var best = _model.Detect([image], _model.InferenceSettings with { ScoreThreshold = 0, MaxDetections = 1 })[0];
        Assert.That(best.Count, Is.EqualTo(1));
        Assert.That(best.HighestScoreBelowThreshold, Is.Null, "a detection was kept");

        // Candidates must score above the threshold: at the best score itself, none does.
        var none = _model.Detect([image], _model.InferenceSettings with { ScoreThreshold = best.Scores[0] })[0];
        Assert.That(none.Count, Is.EqualTo(0));
        Assert.That(none.HighestScoreBelowThreshold, Is.EqualTo(best.Scores[0]));
    }

    [Test]
    public void FlippedByteFailsWithAClearError()
    {
        string zip = Path.Combine(_folder, "model-flipped.zip");
        _ml.Model.Save(_model, _train.Schema, zip);
        // Flip a byte inside the head's weights (a stored entry: ML.NET's zip does not compress it much).
        byte[] bytes = File.ReadAllBytes(zip);
        int offset = FindEntryData(bytes, "Head.bin") + 200;
        bytes[offset] ^= 0x5A;
        File.WriteAllBytes(zip, bytes);

        var error = Assert.Catch(() => _ml.Model.Load(zip, out _));
        var messages = string.Join(" | ", Chain(error!).Select(e => e.Message));
        Assert.That(messages, Does.Contain("Head.bin").And.Contain("corrupt").IgnoreCase.Or.Contain("CRC").IgnoreCase, messages);
    }

    [Test]
    public void ZipOfAVersion2VlmIsStampedWithTheFormatThatReadsIt()
    {
        // Readers of format 0x00010001 know only version-1 VLM manifests: a zip that carries the
        // tiny VLM's version-2 manifest says it needs 0x00010002, so they refuse it up front. Every zip is written as
        // 0x00010007 (it carries the head's graphs, which older readers ignore), needing no newer reader for that.
        using var maskRcnnHead = Estimator(o => { o.MaskPixelChannels = 0; FuseAsBefore(o); }).Fit(_train);
        string zip = Path.Combine(_folder, "model-version.zip");
        _ml.Model.Save(maskRcnnHead, _train.Schema, zip);
        Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010002u)), "version written, oldest reader that can read it");
    }

    [Test]
    public void RegionScalesTravelInTheZipUnderTheFormatThatReadsThem()
    {
        // Mask R-CNN's head (no pixel branch), so that the zip needs nothing newer than the scales do.
        using var scaled = Estimator(o => { (o.VlmRegionScales, o.VlmRegionObjectSize, o.MaskPixelChannels) = ([0.5, 1, 2], 48, 0); FuseAsBefore(o); }).Fit(_train);
        using var singleScale = Estimator(o => { o.MaskPixelChannels = 0; FuseAsBefore(o); }).Fit(_train);
        Assert.That(scaled.RegionScaling, Is.EqualTo(new Microsoft.ML.FVlm.Vlm.RegionScaling([0.5, 1, 2], 48, 0.5)));
        Assert.That(_model.RegionScaling.IsSingle, Is.True, "F-VLM's single scale by default");
        string zip = Path.Combine(_folder, "model-scales.zip");
        _ml.Model.Save(scaled, _train.Schema, zip);
        // Readers of 0x00010002 would ignore the scales and score differently: the zip says it needs 0x00010003.
        Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010003u)));

        using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
        Assert.That(loaded.RegionScaling, Is.EqualTo(scaled.RegionScaling));
        var images = Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().Take(3).Select(MLImage.CreateFromFile).ToArray();
        var expected = scaled.Detect(images);
        var actual = loaded.Detect(images);
        for (int i = 0; i < images.Length; i++) Assert.That(actual[i].Scores, Is.EqualTo(expected[i].Scores), $"image {i}");
        // Same seed, same head: only the VLM's region scores differ from the single-scale model's.
        var single = singleScale.Detect(images);
        Assert.That(Enumerable.Range(0, images.Length).Any(i => !single[i].Scores.SequenceEqual(expected[i].Scores)), Is.True);
        var detectionOnly = new Microsoft.ML.FVlm.Inference.InferenceSettings { ScoreThreshold = 0, ScoreSource = Microsoft.ML.FVlm.Inference.DetectionScoreSource.Detection, PredictMasks = false };
        var scaledDetection = scaled.Detect(images, detectionOnly with { RegionScaling = scaled.RegionScaling });
        var singleDetection = singleScale.Detect(images, detectionOnly);
        for (int i = 0; i < images.Length; i++) Assert.That(scaledDetection[i].Scores, Is.EqualTo(singleDetection[i].Scores), $"image {i}, detection scores");
        foreach (var image in images) image.Dispose();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.VlmRegionScales = [1, 1]));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.VlmRegionScales must be one or more distinct scales in (0, 8]; got 1, 1"));
    }

    /// <summary>The fusion of zips before 0x00010006, so that a zip needs nothing newer than the option a test is about.</summary>
    private static void FuseAsBefore(FVlmOptions o) => (o.RenormaliseFusion, o.VlmScoredBoxes) = (false, Microsoft.ML.FVlm.Inference.VlmScoredBoxes.RefinedBoxes);

    [Test]
    public void FusionMethodTravelsInTheZipUnderTheFormatThatReadsIt()
    {
        Assert.That(_model.InferenceSettings.Fusion, Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Reference), "F-VLM's reference by default");
        using var weighed = Estimator(o => (o.VlmScoredBoxes, o.ObjectnessWeight) = (Microsoft.ML.FVlm.Inference.VlmScoredBoxes.RefinedBoxes, 0.5)).Fit(_train);
        var expectedMethod = new Microsoft.ML.FVlm.Inference.FusionMethod { VlmBoxes = Microsoft.ML.FVlm.Inference.VlmScoredBoxes.RefinedBoxes, ObjectnessWeight = 0.5 };
        Assert.That(weighed.InferenceSettings.Fusion, Is.EqualTo(expectedMethod));
        var images = Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().Take(3).Select(MLImage.CreateFromFile).ToArray();
        foreach (var (model, name) in new[] { (_model, "reference"), (weighed, "weighed") })
        {
            string zip = Path.Combine(_folder, $"model-fusion-{name}.zip");
            _ml.Model.Save(model, _train.Schema, zip);
            // Readers of 0x00010005 would fuse without the division, the VLM on the refined boxes, and no objectness.
            Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010006u)), name);
            using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
            Assert.That(loaded.InferenceSettings.Fusion, Is.EqualTo(model.InferenceSettings.Fusion), name);
            var expected = model.Detect(images);
            var actual = loaded.Detect(images);
            for (int i = 0; i < images.Length; i++) Assert.That(actual[i].Scores, Is.EqualTo(expected[i].Scores), $"{name}, image {i}");
        }
        // The objectness weight changes the scores, nothing else (same seed, same head).
        var unweighed = weighed.Detect(images, weighed.InferenceSettings with { Fusion = expectedMethod with { ObjectnessWeight = 0 } });
        var withObjectness = weighed.Detect(images);
        Assert.That(Enumerable.Range(0, images.Length).Any(i => !unweighed[i].Scores.SequenceEqual(withObjectness[i].Scores)), Is.True);
        foreach (var image in images) image.Dispose();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.ObjectnessWeight = -1));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.ObjectnessWeight must be from 0 (off) to 10; got -1"));
    }

    [Test]
    public void WithFusionTurnsAZipOfTheOldFusionIntoTheReference()
    {
        using var asBefore = _model.WithFusion(Microsoft.ML.FVlm.Inference.FusionMethod.Unnormalised);
        Assert.That(_model.InferenceSettings.Fusion, Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Reference), "the original keeps its method");
        string zip = Path.Combine(_folder, "model-old-fusion.zip");
        _ml.Model.Save(asBefore, _train.Schema, zip);
        Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010005u)), "the old fusion needs no newer reader (the default mask head's pixel branch needs 0x00010005)");

        using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
        Assert.That(loaded.InferenceSettings.Fusion, Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Unnormalised));
        using var reference = loaded.WithFusion(Microsoft.ML.FVlm.Inference.FusionMethod.Reference);
        var images = Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().Take(3).Select(MLImage.CreateFromFile).ToArray();
        var expectedOld = asBefore.Detect(images);
        var expectedReference = _model.Detect(images);
        var actualOld = loaded.Detect(images);
        var actualReference = reference.Detect(images);
        for (int i = 0; i < images.Length; i++)
        {
            Assert.That(actualOld[i].Scores, Is.EqualTo(expectedOld[i].Scores), $"image {i}");
            Assert.That(actualReference[i].Scores, Is.EqualTo(expectedReference[i].Scores), $"image {i}");
        }
        Assert.That(Enumerable.Range(0, images.Length).Any(i => !actualOld[i].Scores.SequenceEqual(actualReference[i].Scores)), Is.True, "the two methods score differently");
        foreach (var image in images) image.Dispose();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => loaded.WithFusion(Microsoft.ML.FVlm.Inference.FusionMethod.Reference with { ObjectnessWeight = 11 }));
        Assert.That(error!.Message, Does.Contain("ObjectnessWeight must be from 0 (off) to 10; got 11"));
    }

    [Test]
    public void CanonicalBoxSizeTravelsInTheZipUnderTheFormatThatReadsIt()
    {
        using var moved = Estimator(o => { (o.RoiCanonicalBoxSize, o.MaskPixelChannels) = (64, 0); FuseAsBefore(o); }).Fit(_train);
        Assert.That(moved.Model.Architecture.RoiHeads.CanonicalBoxSize, Is.EqualTo(64));
        string zip = Path.Combine(_folder, "model-canonical.zip");
        _ml.Model.Save(moved, _train.Schema, zip);
        // Readers of 0x00010003 would pool from the FPN paper's levels, not the ones the head learnt on.
        Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010004u)));

        using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
        Assert.That(loaded.Model.Architecture.RoiHeads.CanonicalBoxSize, Is.EqualTo(64));
        Assert.That(loaded.Model.Architecture.RoiHeads.CanonicalBoxSize, Is.EqualTo(64));
        var images = Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().Take(3).Select(MLImage.CreateFromFile).ToArray();
        var expected = moved.Detect(images);
        var actual = loaded.Detect(images);
        for (int i = 0; i < images.Length; i++)
        {
            Assert.That(actual[i].Scores, Is.EqualTo(expected[i].Scores), $"image {i}");
            Assert.That(actual[i].Boxes, Is.EqualTo(expected[i].Boxes), $"image {i}");
        }
        foreach (var image in images) image.Dispose();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.RoiCanonicalBoxSize = 0));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.RoiCanonicalBoxSize must be from 1 to 4096 pixels; got 0"));
    }

    [Test]
    public void MaskPixelBranchTravelsInTheZipUnderTheFormatThatReadsIt()
    {
        Assert.That(_model.Model.Head.RoiHeads.MasksUsePixels, Is.True, "the default mask head has the pixel branch");
        using var withPixels = Estimator(o => { o.MaskPixelChannels = 4; FuseAsBefore(o); }).Fit(_train);
        Assert.That(withPixels.Model.Architecture.MaskPixelChannels, Is.EqualTo(4));
        Assert.That(withPixels.Model.Head.RoiHeads.MasksUsePixels, Is.True);
        string zip = Path.Combine(_folder, "model-mask-pixels.zip");
        _ml.Model.Save(withPixels, _train.Schema, zip);
        // Readers of 0x00010004 would build a mask head without the branch and fail on its weights.
        Assert.That(FormatVersions(zip), Is.EqualTo((0x00010007u, 0x00010005u)));

        using var loaded = (FVlmTransformer)_ml.Model.Load(zip, out _);
        Assert.That(loaded.Model.Architecture.MaskPixelChannels, Is.EqualTo(4));
        Assert.That(loaded.Model.Architecture.MaskPixelChannels, Is.EqualTo(4));
        var images = Directory.GetFiles(Path.Combine(_folder, "train"), "*.png").Order().Take(3).Select(MLImage.CreateFromFile).ToArray();
        var expected = withPixels.Detect(images);
        var actual = loaded.Detect(images);
        Assert.That(expected.Sum(d => d.Masks!.Length), Is.GreaterThan(0));
        for (int i = 0; i < images.Length; i++)
        {
            Assert.That(actual[i].Scores, Is.EqualTo(expected[i].Scores), $"image {i}");
            Assert.That(actual[i].Masks, Is.EqualTo(expected[i].Masks), $"image {i}");
        }
        foreach (var image in images) image.Dispose();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(o => o.MaskPixelChannels = -1));
        Assert.That(error!.Message, Does.Contain("FVlmOptions.MaskPixelChannels must be from 0 (no pixel branch) to 256; got -1"));
    }

    /// <summary>The F-VLM transformer's (version written, oldest reader that can read it) in a model zip's Model.key.</summary>
    private static (uint Written, uint OldestReader) FormatVersions(string zip)
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(zip);
        var headers = archive.Entries.Where(e => e.Name == "Model.key").Select(e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }).Where(b => b.AsSpan().IndexOf("FVLMXFRM"u8) >= 0).ToArray();
        Assert.That(headers, Has.Length.EqualTo(1));
        int at = headers[0].AsSpan().IndexOf("FVLMXFRM"u8);
        return (BitConverter.ToUInt32(headers[0], at + 8), BitConverter.ToUInt32(headers[0], at + 12));
    }

    private static int FindEntryData(byte[] zip, string name)
    {
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(name);
        for (int i = 0; i + 30 < zip.Length; i++)
        {
            // Local file header: PK\x03\x04, name length at 26, extra length at 28, name at 30.
            if (zip[i] != 0x50 || zip[i + 1] != 0x4B || zip[i + 2] != 3 || zip[i + 3] != 4) continue;
            int nameLength = BitConverter.ToUInt16(zip, i + 26), extraLength = BitConverter.ToUInt16(zip, i + 28);
            if (System.Text.Encoding.ASCII.GetString(zip, i + 30, nameLength).EndsWith(name, StringComparison.Ordinal))
                return i + 30 + nameLength + extraLength;
        }
        throw new InvalidOperationException($"No zip entry ending in {name}.");
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException) yield return x;
    }

    private static List<DetectionRow> Read(IDataView output) => DetectionRow.ReadAll(output);

    public sealed class ImageInput
    {
        [Microsoft.ML.Transforms.Image.ImageType(96, 96)]
        public MLImage Image { get; set; } = null!;
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }
}
