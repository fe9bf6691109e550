using Microsoft.ML.FVlm.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Modeling;

public class DetectionLossesTests
{
    [Test]
    public void RpnLossesByHand()
    {
        using var scope = NewDisposeScope();
        // Two sampled anchors with logit 0: cross-entropy ln 2 each. One positive with deltas off by
        // 0.05 (quadratic zone: 0.5 * 0.05^2 = 0.00125) and 1.0 (linear zone: 1/9 * (1 - 0.5 / 9)),
        // averaged over its four coordinates.
        var (objectness, box) = DetectionLosses.Rpn(
            zeros(2), tensor(new long[] { 1, 0 }),
            tensor(new float[] { 0.05f, 1f, 0, 0 }, [1, 4]), zeros(1, 4));

        Assert.That(objectness.item<float>(), Is.EqualTo(MathF.Log(2)).Within(1e-6));
        double expectedBox = (0.5 * 0.05 * 0.05 + (1.0 / 9) * (1 - 0.5 / 9)) / 4;
        Assert.That(box.item<float>(), Is.EqualTo(expectedBox).Within(1e-6));
    }

    [Test]
    public void FastRcnnWeighsBackgroundBy09()
    {
        using var scope = NewDisposeScope();
        // Uniform logits over 3 outputs: each sample's loss is ln 3 whatever its class, so the
        // weighted mean is ln 3; a skewed case separates the weights: sample 0 (background) has loss
        // -ln softmax(2,0,0)[0], sample 1 (class 1) has -ln softmax(2,0,0)[1].
        var logits = tensor(new float[] { 2, 0, 0, 2, 0, 0 }, [2, 3]);
        var (classification, box) = DetectionLosses.FastRcnn(logits, tensor(new long[] { 0, 1 }), zeros(0, 4), zeros(0, 4));

        double z = Math.Exp(2) + 2;
        double lossBackground = -Math.Log(Math.Exp(2) / z), lossClass = -Math.Log(1 / z);
        double expected = (0.9 * lossBackground + 1.0 * lossClass) / (0.9 + 1.0);
        Assert.That(classification.item<float>(), Is.EqualTo(expected).Within(1e-5));
        Assert.That(box.item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void FastRcnnBoxLossIsTheMeanOverThePositivesCoordinates()
    {
        using var scope = NewDisposeScope();
        // Two positives among 100 sampled proposals: 0.5 (quadratic: 0.125) and 3 (linear: 2.5) in one
        // coordinate each, exact elsewhere. The sampled count does not enter.
        var logits = zeros(100, 3);
        var deltas = tensor(new float[] { 0.5f, 0, 0, 0, 0, 0, 3, 0 }, [2, 4]);
        var (_, box) = DetectionLosses.FastRcnn(logits, zeros(100, dtype: ScalarType.Int64), deltas, zeros(2, 4));
        Assert.That(box.item<float>(), Is.EqualTo((0.125 + 2.5) / 8).Within(1e-6));
    }

    [Test]
    public void MaskLossIsMeanPixelCrossEntropy()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 0, 0, 10, -10 }, [1, 2, 2]);
        var targets = tensor(new float[] { 1, 0, 1, 0 }, [1, 2, 2]);
        double expected = (2 * Math.Log(2) + 2 * Math.Log(1 + Math.Exp(-10))) / 4;
        Assert.That(DetectionLosses.Mask(logits, targets).item<float>(), Is.EqualTo(expected).Within(1e-6));
        Assert.That(DetectionLosses.Mask(zeros(0, 28, 28), zeros(0, 28, 28)).item<float>(), Is.EqualTo(0f), "no positives, no loss");
    }
}
