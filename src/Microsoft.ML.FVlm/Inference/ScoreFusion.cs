using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// F-VLM's open-vocabulary ensemble: per class, the geometric mean of the detector's and the frozen
/// VLM's probabilities, weighted by alpha for base classes and beta for novel ones:
/// <c>p = p_det^(1 - w) * p_vlm^w</c>. The background probability stays the detector's.
/// </summary>
public static class ScoreFusion
{
    /// <summary>F-VLM's weight of the VLM score for base classes.</summary>
    public const double DefaultBaseVlmWeight = 0.35;

    /// <summary>F-VLM's weight of the VLM score for novel classes (and every class of a vocabulary with no split).</summary>
    public const double DefaultNovelVlmWeight = 0.65;

    /// <summary>Fuses detector and VLM class probabilities.</summary>
    /// <param name="detection">[R, 1 + C]: softmax over [background; classes] from the detector head.</param>
    /// <param name="vlm">[R, C]: softmax over the classes from the VLM's region embeddings.</param>
    /// <param name="isNovel">[C]: true for a class whose annotations were never seen in training.</param>
    /// <param name="baseVlmWeight">alpha.</param>
    /// <param name="novelVlmWeight">beta.</param>
    /// <returns>[R, 1 + C]: background from the detector, fused class scores.</returns>
    public static Tensor Fuse(Tensor detection, Tensor vlm, IReadOnlyList<bool> isNovel, double baseVlmWeight, double novelVlmWeight)
    {
        if (detection.shape[1] != vlm.shape[1] + 1 || isNovel.Count != vlm.shape[1])
            throw new ArgumentException($"Expected detection [R, 1 + C], vlm [R, C] and C novel flags; got [{string.Join(", ", detection.shape)}], [{string.Join(", ", vlm.shape)}], {isNovel.Count}.");
        using var scope = NewDisposeScope();
        var weights = tensor(isNovel.Select(n => (float)(n ? novelVlmWeight : baseVlmWeight)).ToArray(), device: vlm.device).to(vlm.dtype);
        var classes = detection[.., 1..].pow(1 - weights) * vlm.pow(weights);
        return cat([detection[.., ..1], classes], 1).MoveToOuterDisposeScope();
    }
}
