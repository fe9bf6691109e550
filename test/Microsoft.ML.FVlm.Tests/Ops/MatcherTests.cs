using Microsoft.ML.FVlm.Ops;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class MatcherTests
{
    [Test]
    public void ThresholdsSplitMatchedIgnoredAndBackground()
    {
        using var scope = NewDisposeScope();
        // Two ground truths x five predictions.
        var quality = tensor(new float[]
        {
            0.80f, 0.50f, 0.10f, 0.00f, 0.65f,
            0.20f, 0.60f, 0.25f, 0.75f, 0.00f,
        }, [2, 5]);

        long[] matches = new Matcher(0.7, 0.3, allowLowQualityMatches: false).Match(quality).data<long>().ToArray();

        Assert.That(matches, Is.EqualTo(new long[] { 0, Matcher.BetweenThresholds, Matcher.BelowLowThreshold, 1, Matcher.BetweenThresholds }));
    }

    [Test]
    public void LowQualityMatchesKeepEachTruthsBestPredictions()
    {
        using var scope = NewDisposeScope();
        // Truth 1's best IoU is 0.4 (predictions 1 and 3, tied): both get truth 1 back although below 0.7.
        var quality = tensor(new float[]
        {
            0.90f, 0.10f, 0.00f, 0.30f,
            0.10f, 0.40f, 0.20f, 0.40f,
        }, [2, 4]);

        long[] matches = new Matcher(0.7, 0.3, allowLowQualityMatches: true).Match(quality).data<long>().ToArray();

        Assert.That(matches, Is.EqualTo(new long[] { 0, 1, Matcher.BelowLowThreshold, 1 }));
    }

    [Test]
    public void NoGroundTruthMeansAllBackground()
    {
        using var scope = NewDisposeScope();
        long[] matches = new Matcher(0.5, 0.5, false).Match(zeros(0, 3)).data<long>().ToArray();
        Assert.That(matches, Is.All.EqualTo(Matcher.BelowLowThreshold));
    }
}
