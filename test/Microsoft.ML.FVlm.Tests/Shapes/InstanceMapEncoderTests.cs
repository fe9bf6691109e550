using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes.Rendering;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class InstanceMapEncoderTests
{
    // 3 x 4 id map, row-major:   0 1 1 2
    //                            1 1 2 2
    //                            0 0 2 0
    // column-major: col0 = 0 1 0, col1 = 1 1 0, col2 = 1 2 2, col3 = 2 2 0
    // instance 1 on at positions 1, 3, 4, 6         -> runs 1 0, 1 1, 1 0, 2 1, 1 0, 1 1, 5 0
    // instance 2 on at positions 7, 8, 9, 10        -> runs 7 0, 4 1, 1 0
    private static readonly byte[] Map = [0, 1, 1, 2, 1, 1, 2, 2, 0, 0, 2, 0];

    [Test]
    public void EncodesEveryInstanceAsColumnMajorRuns()
    {
        var masks = InstanceMapEncoder.Encode(Map, 3, 4, 2);

        Assert.That(masks[0].Mask.Counts.ToArray(), Is.EqualTo(new uint[] { 1, 1, 1, 2, 1, 1, 5 }));
        Assert.That(masks[1].Mask.Counts.ToArray(), Is.EqualTo(new uint[] { 7, 4, 1 }));
        Assert.That(masks[0].Area, Is.EqualTo(4));
        Assert.That(masks[1].Area, Is.EqualTo(4));
        Assert.That(masks[0].Box, Is.EqualTo(new double[] { 0, 0, 3, 2 }));
        Assert.That(masks[1].Box, Is.EqualTo(new double[] { 2, 0, 2, 3 }));
    }

    [Test]
    public void AgreesWithCocoMaskEncodeOfEachBinaryMask()
    {
        var masks = InstanceMapEncoder.Encode(Map, 3, 4, 3);
        for (int k = 1; k <= 3; k++)
        {
            var binary = Map.Select(id => (byte)(id == k ? 1 : 0)).ToArray();
            Assert.That(masks[k - 1].Mask, Is.EqualTo(CocoMask.Encode(binary, 3, 4)), $"instance {k}");
            Assert.That(masks[k - 1].Box, Is.EqualTo(k == 3 ? new double[] { 0, 0, 0, 0 } : CocoMask.ToBox(masks[k - 1].Mask)));
        }
        // Instance 3 is absent: one run of 12 zeros.
        Assert.That(masks[2].Mask.Counts.ToArray(), Is.EqualTo(new uint[] { 12 }));
    }

    [Test]
    public void InstanceCoveringTheFirstPixelStartsWithAnEmptyZeroRun()
    {
        var masks = InstanceMapEncoder.Encode([1, 0, 0, 1], 2, 2, 1);
        // column-major 1 0 0 1
        Assert.That(masks[0].Mask.Counts.ToArray(), Is.EqualTo(new uint[] { 0, 1, 2, 1 }));
    }
}
