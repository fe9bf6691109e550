using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Training;

namespace Microsoft.ML.FVlm;

/// <summary>
/// Checks <see cref="FVlmOptions"/> (errors name the option and the accepted range) and turns them
/// into the immutable settings of the head's modules, the trainer and scoring: the one mapping from the
/// options, used by <c>Fit</c> and by loading a model zip (whose saved options are read back into
/// <see cref="FVlmOptions"/> first).
/// </summary>
internal static class FVlmOptionsValidator
{
    public static void Validate(FVlmOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.VlmFolder)) Fail(nameof(o.VlmFolder), "the folder of a frozen VLM (docs/vlm-contract.md)", o.VlmFolder);
        Require(o.ImageSize is >= 32 and <= 4096 && o.ImageSize % 32 == 0, nameof(o.ImageSize), "a multiple of 32 from 32 to 4096", o.ImageSize);
        Require(o.Steps > 0, nameof(o.Steps), "positive", o.Steps);
        Require(o.BatchSize > 0, nameof(o.BatchSize), "positive", o.BatchSize);
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), "a positive number", o.LearningRate);
        Require(o.WeightDecay >= 0, nameof(o.WeightDecay), "zero or more", o.WeightDecay);
        Require(o.MaskPixelChannels is >= 0 and <= 256, nameof(o.MaskPixelChannels), "from 0 (no pixel branch) to 256", o.MaskPixelChannels);
        Require(o.MaskLossWeight >= 0 && double.IsFinite(o.MaskLossWeight), nameof(o.MaskLossWeight), "zero or a positive number", o.MaskLossWeight);
        Require(o.GradientClipNorm >= 0 && double.IsFinite(o.GradientClipNorm), nameof(o.GradientClipNorm), "zero (no clipping) or a positive number", o.GradientClipNorm);
        Require(o.WarmupSteps >= 0, nameof(o.WarmupSteps), "zero or more", o.WarmupSteps);
        Require(o.PyramidChannels > 0 && o.HeadConvChannels > 0 && o.BoxHeadFcDim > 0, "PyramidChannels, HeadConvChannels and BoxHeadFcDim", "positive",
            $"{o.PyramidChannels}, {o.HeadConvChannels}, {o.BoxHeadFcDim}");
        Require(o.RoiSamplesPerImage > 0, nameof(o.RoiSamplesPerImage), "positive", o.RoiSamplesPerImage);
        Require(o.RoiPositiveFraction is > 0 and <= 1, nameof(o.RoiPositiveFraction), "in (0, 1]", o.RoiPositiveFraction);
        Require(o.RoiCanonicalBoxSize is >= 1 and <= 4096, nameof(o.RoiCanonicalBoxSize), "from 1 to 4096 pixels", o.RoiCanonicalBoxSize);
        Require(o.InferenceProposalCount > 0, nameof(o.InferenceProposalCount), "positive", o.InferenceProposalCount);
        Require(o.AnchorSizes is { Length: 5 } && o.AnchorSizes.All(s => s > 0), nameof(o.AnchorSizes), "five positive sizes (P2..P6)", string.Join(", ", o.AnchorSizes ?? []));
        Require(o.MinJitterScale > 0 && o.MaxJitterScale >= o.MinJitterScale, "MinJitterScale and MaxJitterScale", "0 < min <= max", $"{o.MinJitterScale}, {o.MaxJitterScale}");
        Require(o.AugmentationVariants > 0, nameof(o.AugmentationVariants), "positive", o.AugmentationVariants);
        Require(o.CacheMemoryBytes >= 0, nameof(o.CacheMemoryBytes), "zero or more", o.CacheMemoryBytes);
        Require(o.CheckpointEvery >= 0, nameof(o.CheckpointEvery), "zero or more", o.CheckpointEvery);
        Require(o.CheckpointEvery == 0 || !string.IsNullOrWhiteSpace(o.CheckpointFolder), nameof(o.CheckpointFolder), "set when CheckpointEvery is", o.CheckpointFolder);
        Require(o.ScoreThreshold is >= 0 and < 1, nameof(o.ScoreThreshold), "in [0, 1)", o.ScoreThreshold);
        Require(o.NmsThreshold is > 0 and <= 1, nameof(o.NmsThreshold), "in (0, 1]", o.NmsThreshold);
        Require(o.MaxDetections > 0, nameof(o.MaxDetections), "positive", o.MaxDetections);
        Require(o.BaseVlmWeight is >= 0 and <= 1, nameof(o.BaseVlmWeight), "in [0, 1]", o.BaseVlmWeight);
        Require(o.NovelVlmWeight is >= 0 and <= 1, nameof(o.NovelVlmWeight), "in [0, 1]", o.NovelVlmWeight);
        Validate(o.FusionMethod());
        Require(o.VlmRegionScales is { Length: > 0 } && o.VlmRegionScales.All(v => v is > 0 and <= 8) && o.VlmRegionScales.Distinct().Count() == o.VlmRegionScales.Length,
            nameof(o.VlmRegionScales), "one or more distinct scales in (0, 8]", string.Join(", ", o.VlmRegionScales ?? []));
        Require(o.VlmRegionObjectSize > 0 && double.IsFinite(o.VlmRegionObjectSize), nameof(o.VlmRegionObjectSize), "a positive number of pixels", o.VlmRegionObjectSize);
        Require(o.VlmRegionScaleSpread is >= 0.01 and <= 10, nameof(o.VlmRegionScaleSpread), "from 0.01 to 10", o.VlmRegionScaleSpread);
        Require(o.InferenceBatchSize > 0, nameof(o.InferenceBatchSize), "positive", o.InferenceBatchSize);
        Require(o.NovelClassNames is not null && o.NovelClassNames.All(n => !string.IsNullOrWhiteSpace(n)), nameof(o.NovelClassNames), "non-empty names", "an empty name");
        string[] novel = o.NovelClassNames!;
        if (Vocabulary.FindSameToClip(novel) is var (first, second))
            Fail(nameof(o.NovelClassNames), "distinct names", novel[first] == novel[second] ? $"'{novel[first]}' twice"
                : $"'{novel[first]}' ({first}) and '{novel[second]}' ({second}), which CLIP tokenizes identically");
    }

    /// <summary>Checks a fusion method, naming the options that set it.</summary>
    public static void Validate(FusionMethod fusion)
    {
        Require(Enum.IsDefined(fusion.VlmBoxes), nameof(FVlmOptions.VlmScoredBoxes), "Proposals or RefinedBoxes", fusion.VlmBoxes);
        Require(fusion.ObjectnessWeight is >= 0 and <= 10, nameof(FVlmOptions.ObjectnessWeight), "from 0 (off) to 10", fusion.ObjectnessWeight);
    }

    public static DetectorArchitecture Architecture(FVlmOptions o) => new()
    {
        PyramidChannels = o.PyramidChannels,
        HeadConvChannels = o.HeadConvChannels,
        BoxHeadFcDim = o.BoxHeadFcDim,
        MaskPixelChannels = o.MaskPixelChannels,
        AnchorSizes = o.AnchorSizes.ToArray(),
        Rpn = new RpnSettings { InferencePostNmsTopK = o.InferenceProposalCount },
        RoiHeads = new RoiHeadsSettings { SamplesPerImage = o.RoiSamplesPerImage, PositiveFraction = o.RoiPositiveFraction, CanonicalBoxSize = o.RoiCanonicalBoxSize },
    };

    public static ScoringSettings Scoring(FVlmOptions o) => new(Columns(o), Inference(o), o.InferenceBatchSize);

    public static OutputColumns Columns(FVlmOptions o) => new(o.ImageColumnName, o.PredictedLabelColumnName, o.ScoreColumnName,
        o.PredictedBoundingBoxColumnName, o.PredictedMaskColumnName, o.AddDetectionScoreColumn, o.AddVlmScoreColumn);

    public static InferenceSettings Inference(FVlmOptions o) => new()
    {
        ScoreThreshold = o.ScoreThreshold,
        NmsThreshold = o.NmsThreshold,
        MaxDetections = o.MaxDetections,
        BaseVlmWeight = o.BaseVlmWeight,
        NovelVlmWeight = o.NovelVlmWeight,
        Fusion = o.FusionMethod(),
        RegionScaling = o.RegionScaling(),
    };

    public static TrainingSettings Training(FVlmOptions o) => new()
    {
        ImageSize = o.ImageSize,
        BatchSize = o.BatchSize,
        Steps = o.Steps,
        LearningRate = o.LearningRate,
        WeightDecay = o.WeightDecay,
        WarmupSteps = o.WarmupSteps,
        GradientClipNorm = o.GradientClipNorm,
        MaskLossWeight = o.MaskLossWeight,
        MinJitterScale = o.MinJitterScale,
        MaxJitterScale = o.MaxJitterScale,
        AugmentationVariants = o.AugmentationVariants,
        HorizontalFlip = o.HorizontalFlip,
        CacheFeatures = o.CacheFeatures,
        CacheMemoryBytes = o.CacheMemoryBytes,
        CacheFolder = o.CacheFolder,
        Seed = o.Seed,
        CheckpointEvery = o.CheckpointEvery,
        CheckpointFolder = o.CheckpointFolder,
        ResumeFrom = o.ResumeFrom,
        Device = o.Device,
    };

    private static void Require(bool condition, string option, string expected, object? actual)
    {
        if (!condition) Fail(option, expected, actual);
    }

    private static void Fail(string option, string expected, object? actual) =>
        throw new ArgumentOutOfRangeException(option, $"FVlmOptions.{option} must be {expected}; got {(actual is null or "" ? "nothing" : actual)}.");
}
