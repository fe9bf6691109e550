using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>Detections of one image, best first.</summary>
/// <param name="Boxes">4 per detection: x0 y0 x1 y1 in the original image's pixels, clipped.</param>
/// <param name="Classes">0-based index into the vocabulary.</param>
/// <param name="Scores">The score that ranked them (fused by default).</param>
/// <param name="DetectionScores">The detector's probability of the same class.</param>
/// <param name="VlmScores">The VLM's probability of the same class.</param>
/// <param name="Masks">Instance masks at the original image size, or null when masks were not asked for.</param>
public sealed record ImageDetections(float[] Boxes, int[] Classes, float[] Scores, float[] DetectionScores, float[] VlmScores, RleMask[]? Masks)
{
    public int Count => Classes.Length;

    /// <summary>
    /// When the score threshold kept nothing: the highest score of the (box, class) pairs it dropped,
    /// which tells an image with nothing to detect from a vocabulary whose scores spread too thin to
    /// reach the threshold (thousands of classes). Null when a detection was kept or there were no proposals.
    /// </summary>
    public float? HighestScoreBelowThreshold { get; init; }

    public static ImageDetections Empty(bool withMasks) => new([], [], [], [], [], withMasks ? [] : null);
}
