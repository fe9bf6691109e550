using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// Picks a fixed-size training sample of predictions per image with at most a given fraction of
/// positives; negatives fill the rest. Randomness comes from the caller's generator, so a seeded
/// run picks the same sample every time.
/// </summary>
internal sealed class BalancedSampler
{
    private readonly int _samplesPerImage;
    private readonly double _positiveFraction;

    /// <param name="samplesPerImage">Sample size (256 anchors for the RPN, 512 proposals for the box head).</param>
    /// <param name="positiveFraction">Largest share of positives (0.5 for the RPN, 0.25 for the box head).</param>
    public BalancedSampler(int samplesPerImage, double positiveFraction)
    {
        if (samplesPerImage <= 0) throw new ArgumentOutOfRangeException(nameof(samplesPerImage), samplesPerImage, "must be positive");
        if (positiveFraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(positiveFraction), positiveFraction, "must be between 0 and 1");
        (_samplesPerImage, _positiveFraction) = (samplesPerImage, positiveFraction);
    }

    /// <summary>Samples one image's predictions.</summary>
    /// <param name="labels">[P] int64: 1 or more positive, 0 negative, below 0 ignored.</param>
    /// <param name="generator">Random source; <see langword="null"/> uses torch's global generator.</param>
    /// <returns>Indices of the sampled positives and negatives.</returns>
    public (Tensor Positive, Tensor Negative) Sample(Tensor labels, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var positive = nonzero(labels >= 1).view(-1);
        var negative = nonzero(labels == 0).view(-1);
        long positiveCount = Math.Min((long)(_samplesPerImage * _positiveFraction), positive.shape[0]);
        long negativeCount = Math.Min(_samplesPerImage - positiveCount, negative.shape[0]);
        var chosenPositive = positive[randperm(positive.shape[0], generator: generator, device: labels.device)[..(int)positiveCount]];
        var chosenNegative = negative[randperm(negative.shape[0], generator: generator, device: labels.device)[..(int)negativeCount]];
        return (chosenPositive.MoveToOuterDisposeScope(), chosenNegative.MoveToOuterDisposeScope());
    }
}
