using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// Assigns each prediction (anchor or proposal) to the ground-truth box it overlaps most, or marks
/// it background or ignored, by IoU thresholds. With low-quality matches allowed (the RPN), every
/// ground truth also keeps the predictions that overlap it best, even below the high threshold.
/// </summary>
internal sealed class Matcher
{
    /// <summary>Label of a prediction below the low threshold: background.</summary>
    public const long BelowLowThreshold = -1;

    /// <summary>Label of a prediction between the thresholds: ignored in the loss.</summary>
    public const long BetweenThresholds = -2;

    private readonly double _high, _low;
    private readonly bool _allowLowQualityMatches;

    /// <param name="highThreshold">IoU at or above which a prediction is matched (0.7 for the RPN, 0.5 for the box head).</param>
    /// <param name="lowThreshold">IoU below which a prediction is background (0.3 for the RPN, 0.5 for the box head).</param>
    /// <param name="allowLowQualityMatches">Also match each ground truth's best predictions, whatever their IoU.</param>
    public Matcher(double highThreshold, double lowThreshold, bool allowLowQualityMatches)
    {
        if (lowThreshold > highThreshold) throw new ArgumentException($"The low threshold ({lowThreshold}) must not exceed the high one ({highThreshold}).");
        (_high, _low, _allowLowQualityMatches) = (highThreshold, lowThreshold, allowLowQualityMatches);
    }

    /// <summary>Matches predictions to ground truths.</summary>
    /// <param name="quality">[G, P] IoU of every ground truth with every prediction.</param>
    /// <returns>[P] int64: the matched ground-truth index, or <see cref="BelowLowThreshold"/> / <see cref="BetweenThresholds"/>.</returns>
    public Tensor Match(Tensor quality)
    {
        if (quality.shape[0] == 0)
            return full(quality.shape[1], BelowLowThreshold, dtype: ScalarType.Int64, device: quality.device);
        using var scope = NewDisposeScope();
        var (bestQuality, matches) = quality.max(0);
        var original = matches.clone();
        matches = matches.masked_fill(bestQuality < _low, BelowLowThreshold);
        matches = matches.masked_fill((bestQuality >= _low) & (bestQuality < _high), BetweenThresholds);
        if (_allowLowQualityMatches)
        {
            // For each ground truth, the predictions tied at its highest IoU get their argmax match back.
            var (bestPerTruth, _) = quality.max(1);
            var isBest = (quality == bestPerTruth[.., TensorIndex.None]).any(0);
            matches = where(isBest, original, matches);
        }
        return matches.MoveToOuterDisposeScope();
    }
}
