using Microsoft.ML.FVlm.Shapes.Rendering;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class ShapesRandomTests
{
    [Test]
    public void MatchesReferenceXoshiro256StarStarSeededBySplitMix64()
    {
        // Expected values from an independent Python transcription of the published algorithms
        // (state = four SplitMix64 outputs from 0; output = rotl(s1 * 5, 7) * 9).
        var random = new ShapesRandom(0);
        Assert.That(random.NextUInt64(), Is.EqualTo(0x99ec5f36cb75f2b4UL));
        Assert.That(random.NextUInt64(), Is.EqualTo(0xbf6e1f784956452aUL));
        Assert.That(random.NextUInt64(), Is.EqualTo(0x1a5f849d4933e6e0UL));
    }

    [Test]
    public void BoundedDrawsStayInRange()
    {
        var random = ShapesRandom.For(3, 1, 17);
        var seen = new int[7];
        for (int i = 0; i < 7000; i++)
            seen[random.Next(-3, 4) + 3]++;
        // Each of the 7 values about 1000 times (binomial sd about 29).
        Assert.That(seen, Is.All.InRange(850, 1150));
    }
}
