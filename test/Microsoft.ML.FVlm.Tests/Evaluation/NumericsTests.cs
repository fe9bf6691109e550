using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>The floating-point details that make figures agree with NumPy to the last bit.</summary>
public class NumericsTests
{
    [Test]
    public void ThresholdsAreNumPyLinspaceValues()
    {
        var p = EvaluationParameters.Coco();
        // linspace(0.5, 0.95, 10)[8] is 0.8999999999999999 in NumPy (8 * 0.049999999999999996 + 0.5).
        Assert.That(p.IouThresholds[8], Is.EqualTo(0.8999999999999999));
        Assert.That(p.IouThresholds[8], Is.Not.EqualTo(0.9));
        Assert.That(p.IouThresholds[5], Is.EqualTo(0.75));
        // linspace(0, 1, 101)[35] is 35 * 0.01 = 0.35000000000000003.
        Assert.That(p.RecallThresholds[35], Is.EqualTo(0.35000000000000003));
        Assert.That(p.RecallThresholds[50], Is.EqualTo(0.5));
        Assert.That(p.RecallThresholds[100], Is.EqualTo(1.0));
    }

    [Test]
    public void PairwiseSumDiffersFromALeftToRightLoop()
    {
        // np.sum of ten 0.1: eight lanes 0.1 each, ((0.2 + 0.2) + (0.2 + 0.2)) = 0.8, + 0.1 + 0.1 = 1.0;
        // a plain loop gives 0.9999999999999999.
        double[] tenths = [.. Enumerable.Repeat(0.1, 10)];
        double loop = 0;
        foreach (double v in tenths)
            loop += v;
        Assert.That(NumPyMean.PairwiseSum(tenths), Is.EqualTo(1.0));
        Assert.That(loop, Is.EqualTo(0.9999999999999999));
        Assert.That(NumPyMean.Mean(tenths), Is.EqualTo(0.1));
    }
}
