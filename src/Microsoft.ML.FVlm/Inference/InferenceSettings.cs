namespace Microsoft.ML.FVlm.Inference;

/// <summary>Which probabilities rank and label the detections.</summary>
public enum DetectionScoreSource
{
    /// <summary>F-VLM's ensemble of detector and VLM probabilities (the default).</summary>
    Fused,

    /// <summary>The trained detector head's probabilities alone.</summary>
    Detection,

    /// <summary>The frozen VLM's region probabilities alone.</summary>
    Vlm,
}

/// <summary>Post-processing settings (built from the transformer's options, read nowhere else).</summary>
public sealed record InferenceSettings
{
    /// <summary>Detections scoring below this are dropped before NMS.</summary>
    public double ScoreThreshold { get; init; } = 0.05;

    /// <summary>Per-class NMS IoU threshold.</summary>
    public double NmsThreshold { get; init; } = 0.5;

    /// <summary>Detections kept per image (100 for COCO, 300 for LVIS-style evaluation).</summary>
    public int MaxDetections { get; init; } = 100;

    /// <summary>alpha: weight of the VLM score for base classes.</summary>
    public double BaseVlmWeight { get; init; } = ScoreFusion.DefaultBaseVlmWeight;

    /// <summary>beta: weight of the VLM score for novel classes.</summary>
    public double NovelVlmWeight { get; init; } = ScoreFusion.DefaultNovelVlmWeight;

    public DetectionScoreSource ScoreSource { get; init; } = DetectionScoreSource.Fused;

    /// <summary>How detector and VLM probabilities are fused, and which boxes the VLM scores (F-VLM's reference by default).</summary>
    public FusionMethod Fusion { get; init; } = FusionMethod.Reference;

    /// <summary>The scales the frozen VLM embeds regions at (F-VLM: scale 1 only). Settings that share a forward pass must agree on it.</summary>
    public Vlm.RegionScaling RegionScaling { get; init; } = Vlm.RegionScaling.Single;

    /// <summary>Compute masks for the kept detections.</summary>
    public bool PredictMasks { get; init; } = true;
}
