using Microsoft.ML.FVlm.Ops;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class AnchorGeneratorTests
{
    [Test]
    public void CountAndPositionsFollowTheGrid()
    {
        using var scope = NewDisposeScope();
        var generator = new AnchorGenerator([32, 64], [0.5, 1.0, 2.0]);

        var anchors = generator.LevelAnchors(level: 0, height: 2, width: 3, stride: 4);

        Assert.That(anchors.shape, Is.EqualTo(new long[] { 2 * 3 * 3, 4 }));
        float[] a = anchors.data<float>().ToArray();
        // Ratio 0.5 (h / w): w = 32 / sqrt(0.5) = 45.25, h = 22.63 -> half sides rounded: 23, 11.
        Assert.That(a[..4], Is.EqualTo(new float[] { -23, -11, 23, 11 }));
        // Ratio 1: a 32 x 32 square centred on (0, 0).
        Assert.That(a[4..8], Is.EqualTo(new float[] { -16, -16, 16, 16 }));
        // Location (row 1, column 2) = 5th location, ratio 1: shifted by (8, 4).
        int index = (1 * 3 + 2) * 3 + 1;
        Assert.That(a[(index * 4)..(index * 4 + 4)], Is.EqualTo(new float[] { 8 - 16, 4 - 16, 8 + 16, 4 + 16 }));
    }

    [Test]
    public void EveryAnchorHasTheLevelsArea()
    {
        using var scope = NewDisposeScope();
        var anchors = new AnchorGenerator([32, 64], [0.5, 1.0, 2.0]).LevelAnchors(level: 1, height: 4, width: 4, stride: 8);
        var areas = BoxOps.Area(anchors);
        // Rounding the corners moves areas by a few percent at most.
        Assert.That((areas / (64f * 64f) - 1).abs().max().item<float>(), Is.LessThan(0.03f));
    }
}
