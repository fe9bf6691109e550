using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

/// <summary>Region embeddings at several canvas scales (<see cref="RegionScaling"/>) on the tiny VLM.</summary>
public class RegionScalingTests
{
    [Test]
    public void WeightsFollowTheLogDistanceOfTheScaledSideToTheObjectSize()
    {
        using var scope = NewDisposeScope();
        var scaling = new RegionScaling([1.0, 2.0], 64, 0.5);
        // Longest sides 32 (a 32 x 10 box) and 64.
        var weights = scaling.Weights(new float[] { 5, 5, 37, 15, 0, 0, 40, 64 });

        // Side 32: scale 1 is ln 2 from 64 (exp(-ln(2)^2 / 0.5)), scale 2 exactly on it (1).
        double near = Math.Exp(-Math.Log(2) * Math.Log(2) / 0.5);
        Assert.That(weights[0], Is.EqualTo(near / (1 + near)).Within(1e-6));
        Assert.That(weights[1], Is.EqualTo(1 / (1 + near)).Within(1e-6));
        // Side 64: the other way round.
        Assert.That(weights[2], Is.EqualTo(1 / (1 + near)).Within(1e-6));
        Assert.That(weights[3], Is.EqualTo(near / (1 + near)).Within(1e-6));
    }

    [Test]
    public void ScalesUnderOnePercentOfTheLargestWeightAreSkipped()
    {
        using var scope = NewDisposeScope();
        // Side 64 at scale 0.25 is ln 4 away: exp(-ln(4)^2 / (2 * 0.3^2)) is about 2e-5.
        var weights = new RegionScaling([0.25, 1.0], 64, 0.3).Weights(new float[] { 0, 0, 64, 64 });
        Assert.That(weights, Is.EqualTo(new[] { 0f, 1f }));
        // With a spread of 0.6 it is exp(-ln(4)^2 / 0.72), about 0.07 of the largest weight, and kept.
        weights = new RegionScaling([0.25, 1.0], 64, 0.6).Weights(new float[] { 0, 0, 64, 64 });
        double far = Math.Exp(-Math.Log(4) * Math.Log(4) / 0.72);
        Assert.That(weights[0], Is.EqualTo(far / (1 + far)).Within(1e-6));
    }

    [Test]
    public void InvalidScalingsAreNamed()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new RegionScaling([], 64, 0.5))!.Message, Does.Contain("at least one scale"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new RegionScaling([0.0, 1.0], 64, 0.5))!.Message, Does.Contain("(0, 8]"));
        Assert.That(Assert.Throws<ArgumentException>(() => new RegionScaling([1.0, 1.0], 64, 0.5))!.Message, Does.Contain("repeat"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new RegionScaling([1.0], 0, 0.5))!.ParamName, Is.EqualTo("objectSize"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new RegionScaling([1.0], 64, double.NaN))!.ParamName, Is.EqualTo("spread"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new RegionScaling([1.0, 2.0], 64, 1e-9))!.Message, Does.Contain("from 0.01 to 10"));
        Assert.That(new RegionScaling([1.0, 2.0], 64, 0.5), Is.EqualTo(new RegionScaling([1.0, 2.0], 64, 0.5)), "equal by value");
        Assert.That(new RegionScaling([1.0, 2.0], 64, 0.5), Is.Not.EqualTo(new RegionScaling([2.0, 1.0], 64, 0.5)));
    }

    [Test]
    public void SingleScaleIsTheNormalisedRegionEmbedding()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        manual_seed(11);
        var pixels = randn(1, 3, 96, 128);
        var c5 = vlm.EncodeImages(pixels)[^1];
        var boxes = tensor(new float[] { 0, 0, 64, 64, 10, 5, 90, 60, 100, 70, 128, 96 }, [3, 4]);

        var levels = vlm.RegionLevelsAtScales(pixels, c5, RegionScaling.Single);
        Assert.That(levels, Has.Length.EqualTo(1));
        Assert.That(levels[0].Handle, Is.EqualTo(c5.Handle), "scale 1 reuses the map it was given");
        var embedded = vlm.EmbedRegions(levels, boxes, RegionScaling.Single);
        var expected = nn.functional.normalize(vlm.EmbedRegions(c5, boxes), dim: -1);
        Assert.That((embedded - expected).abs().max().item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void EachScaleEmbedsBoxesOnTheResizedCanvas()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        manual_seed(12);
        var pixels = randn(2, 3, 96, 128);
        var c5 = vlm.EncodeImages(pixels)[^1];
        var scaling = new RegionScaling([0.75, 1.0, 2.0], 64, 0.05);   // a narrow spread: each box takes one scale

        var levels = vlm.RegionLevelsAtScales(pixels, c5, scaling);
        // 0.75 x (96, 128) = (72, 96), padded to multiples of 32: (96, 96); the tiny VLM's region level has stride 32.
        Assert.That(levels.Select(l => l.shape), Is.EqualTo(new[] { new long[] { 2, 256, 3, 3 }, c5.shape, new long[] { 2, 256, 6, 8 } }));

        // A box of side 32 is embedded at scale 2 only, one of side 85 at 0.75 only (85 x 0.75 = 63.75).
        var boxes = tensor(new float[] { 8, 8, 40, 30, 20, 0, 105, 80 }, [2, 4]);
        var weights = scaling.Weights(boxes.data<float>().ToArray());
        Assert.That(weights, Is.EqualTo(new[] { 0f, 0f, 1f, 1f, 0f, 0f }));
        var embedded = vlm.EmbedRegions(levels.Select(l => l[1..2]).ToArray(), boxes, scaling);

        // By hand, for image 1: resize its canvas, run the encoder, embed the scaled box.
        var doubled = vlm.EncodeImages(nn.functional.interpolate(pixels[1..2], size: [192, 256], mode: InterpolationMode.Bilinear, align_corners: false))[^1];
        var small = nn.functional.pad(nn.functional.interpolate(pixels[1..2], size: [72, 96], mode: InterpolationMode.Bilinear, align_corners: false), [0, 0, 0, 24]);
        var reduced = vlm.EncodeImages(small)[^1];
        var first = nn.functional.normalize(vlm.EmbedRegions(doubled, boxes[0..1] * 2), dim: -1);
        var second = nn.functional.normalize(vlm.EmbedRegions(reduced, boxes[1..2] * 0.75f), dim: -1);
        Assert.That((embedded[0] - first[0]).abs().max().item<float>(), Is.LessThan(1e-6f));
        Assert.That((embedded[1] - second[0]).abs().max().item<float>(), Is.LessThan(1e-6f));
        Assert.That((embedded[0] - nn.functional.normalize(vlm.EmbedRegions(c5[1..2], boxes[0..1]), dim: -1)[0]).abs().max().item<float>(),
            Is.GreaterThan(1e-3f), "scale 2 is not scale 1");
    }

    [Test]
    public void MixedScalesAverageTheUnitEmbeddings()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        manual_seed(13);
        var pixels = randn(1, 3, 64, 64);
        var c5 = vlm.EncodeImages(pixels)[^1];
        var scaling = new RegionScaling([1.0, 2.0], 32 * Math.Sqrt(2), 0.5);   // a box of side 32 sits between the scales: equal weights
        var levels = vlm.RegionLevelsAtScales(pixels, c5, scaling);
        var box = tensor(new float[] { 16, 16, 48, 48 }, [1, 4]);

        var embedded = vlm.EmbedRegions(levels, box, scaling);
        var atOne = nn.functional.normalize(vlm.EmbedRegions(levels[0], box), dim: -1);
        var atTwo = nn.functional.normalize(vlm.EmbedRegions(levels[1], box * 2), dim: -1);
        var expected = nn.functional.normalize(atOne + atTwo, dim: -1);
        Assert.That((embedded - expected).abs().max().item<float>(), Is.LessThan(1e-5f));
        Assert.That(Assert.Throws<ArgumentException>(() => vlm.EmbedRegions(levels[..1], box, scaling))!.Message, Does.Contain("1 region maps for 2 region scales"));
        Assert.That(vlm.EmbedRegions(levels, zeros(0, 4), scaling).shape, Is.EqualTo(new long[] { 0, vlm.Manifest.EmbeddingDim }));
        Assert.That(Assert.Throws<ArgumentException>(() => vlm.EmbedRegions(levels, zeros(3), scaling))!.Message, Does.Contain("boxes must be [R, 4]"));
    }

    [Test]
    public void ZipOptionsWithoutRegionScalesReadAsTheSingleScale()
    {
        // What a zip before format 0x00010003 holds: Options.json without the three region fields.
        var saved = new Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions("Image", "PredictedLabel", "Score", "PredictedBoundingBoxes", "PredictedMasks",
            false, false, 0.05, 0.5, 100, 0.35, 0.65, 4, 320, "cpu", null, false, 64, 64, 512, [16, 32, 64, 128, 256], 1000, [0.5, 1, 2], 48, 0.7);
        var json = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(saved))!.AsObject();
        Assert.That(json.Remove("VlmRegionScales") && json.Remove("VlmRegionObjectSize") && json.Remove("VlmRegionScaleSpread"), Is.True, "the fields as written");
        var old = System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(json.ToJsonString())!;
        Assert.That(old.ToOptions("vlm").RegionScaling(), Is.EqualTo(RegionScaling.Single));
        Assert.That(System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(System.Text.Json.JsonSerializer.Serialize(saved))!
            .ToOptions("vlm").RegionScaling(), Is.EqualTo(new RegionScaling([0.5, 1, 2], 48, 0.7)), "a new zip keeps them");
        // Nor, before 0x00010004, the canonical box size: the FPN paper's 224.
        Assert.That(json.Remove("RoiCanonicalBoxSize"), Is.True, "the field as written");
        var older = System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(json.ToJsonString())!;
        Assert.That(older.ToOptions("vlm").RoiCanonicalBoxSize, Is.EqualTo(224));
        Assert.That(FVlmOptionsValidator.Architecture(older.ToOptions("vlm")).RoiHeads.CanonicalBoxSize, Is.EqualTo(224));
        // Nor, before 0x00010005, a mask head's pixel branch: Mask R-CNN's head.
        Assert.That(json.Remove("MaskPixelChannels"), Is.True, "the field as written");
        var oldest = System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(json.ToJsonString())!;
        Assert.That(FVlmOptionsValidator.Architecture(oldest.ToOptions("vlm")).MaskPixelChannels, Is.EqualTo(0));
        Assert.That(oldest.ToOptions("vlm").MaskPixelChannels, Is.EqualTo(0));
        // Nor, before 0x00010006, a fusion method: such a zip keeps the one it was saved with, not F-VLM's reference.
        Assert.That(saved.ToOptions("vlm").FusionMethod(), Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Unnormalised), "the record's defaults are an old zip's");
        var current = saved with { RenormaliseFusion = true, VlmScoredBoxes = "Proposals", ObjectnessWeight = 0.25 };
        var written = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(current))!.AsObject();
        Assert.That(System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(written.ToJsonString())!.ToOptions("vlm").FusionMethod(),
            Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Reference with { ObjectnessWeight = 0.25 }), "a new zip keeps it");
        Assert.That(written.Remove("RenormaliseFusion") && written.Remove("VlmScoredBoxes") && written.Remove("ObjectnessWeight"), Is.True, "the fields as written");
        Assert.That(System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.FVlm.Persistence.FVlmModelFormat.SavedOptions>(written.ToJsonString())!.ToOptions("vlm").FusionMethod(),
            Is.EqualTo(Microsoft.ML.FVlm.Inference.FusionMethod.Unnormalised));
    }
}
