using Microsoft.ML.FVlm.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class NmsTests
{
    [Test]
    public void AgreesWithBruteForceOnRandomBoxes([Values(0.3, 0.5, 0.7)] double threshold)
    {
        torch.manual_seed(11);
        using var scope = NewDisposeScope();
        var boxes = BoxCoderTests.RandomBoxes(400, extent: 200);
        var scores = rand(400);

        int[] kept = Nms.Run(boxes.data<float>().ToArray(), scores.data<float>().ToArray(), threshold);

        Assert.That(kept, Is.EqualTo(BruteForce(boxes, scores, classes: null, threshold)));
    }

    [Test]
    public void BatchedSuppressesOnlyWithinAClass()
    {
        torch.manual_seed(12);
        using var scope = NewDisposeScope();
        var boxes = BoxCoderTests.RandomBoxes(300, extent: 150);
        var scores = rand(300);
        var classes = randint(0, 4, [300], dtype: ScalarType.Int32);

        int[] kept = Nms.Batched(boxes.data<float>().ToArray(), scores.data<float>().ToArray(), classes.data<int>().ToArray(), 0.5);

        Assert.That(kept, Is.EqualTo(BruteForce(boxes, scores, classes.data<int>().ToArray(), 0.5)));
    }

    [Test]
    public void BatchedWithALimitKeepsTheBestOverAllClasses()
    {
        torch.manual_seed(13);
        using var scope = NewDisposeScope();
        var boxes = BoxCoderTests.RandomBoxes(500, extent: 120);
        var scores = rand(500);
        var classes = randint(0, 7, [500], dtype: ScalarType.Int32);

        int[] kept = Nms.Batched(boxes.data<float>().ToArray(), scores.data<float>().ToArray(), classes.data<int>().ToArray(), 0.5, maxKept: 40);

        Assert.That(kept, Is.EqualTo(BruteForce(boxes, scores, classes.data<int>().ToArray(), 0.5).Take(40)));
    }

    [Test]
    public void IdenticalBoxesKeepTheHigherScore()
    {
        float[] boxes = [0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30];
        Assert.That(Nms.Run(boxes, [0.5f, 0.9f, 0.1f], 0.5), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(Nms.Run(boxes, [0.5f, 0.9f, 0.1f], 0.5, maxKept: 1), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void AnIouThatRoundsAboveTheThresholdIsAboveIt([Values(1, 16)] int overlapping)
    {
        // 1 / 10 in float is 0.100000001, above the double 0.1 (torchvision compares the float IoU with
        // the double threshold): each overlapping box is suppressed, in the scalar tail and in vector lanes.
        var boxes = new List<float> { 0, 0, 10, 1 };
        for (int i = 0; i < overlapping; i++) boxes.AddRange([9, 0, 10, 1]);
        var scores = Enumerable.Range(0, overlapping + 1).Select(i => 1f - i * 0.01f).ToArray();
        Assert.That(1f / 10f > 0.1, "the premise: the float IoU is above the double threshold");

        Assert.That(Nms.Run(boxes.ToArray(), scores, 0.1), Is.EqualTo(new[] { 0 }));
    }

    /// <summary>Full IoU matrix; a box is kept when no kept box of its class scoring higher overlaps it above the threshold.</summary>
    private static int[] BruteForce(Tensor boxes, Tensor scores, int[]? classes, double threshold)
    {
        float[] flat = BoxOps.Iou(boxes, boxes).data<float>().ToArray();
        int n = (int)boxes.shape[0];
        float[] s = scores.data<float>().ToArray();
        var order = Enumerable.Range(0, n).OrderByDescending(i => s[i]).ThenBy(i => i).ToArray();
        var kept = new List<int>();
        foreach (int i in order)
        {
            bool suppressed = kept.Any(k => (classes is null || classes[k] == classes[i]) && flat[k * n + i] > threshold);
            if (!suppressed) kept.Add(i);
        }
        return kept.ToArray();
    }
}
