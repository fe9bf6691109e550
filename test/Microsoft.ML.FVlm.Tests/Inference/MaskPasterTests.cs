using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;

namespace Microsoft.ML.FVlm.Tests.Inference;

public class MaskPasterTests
{
    [Test]
    public void AFullMapFillsExactlyTheBoxPixels()
    {
        var probabilities = Enumerable.Repeat(0.9f, 28 * 28).ToArray();
        var mask = CocoMask.Decode(MaskPaster.Paste(probabilities, 28, [2f, 3f, 6f, 8f], 10, 12, new byte[120]));
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 12; x++)
                Assert.That(mask[y * 12 + x], Is.EqualTo(x >= 2 && x < 6 && y >= 3 && y < 8 ? 1 : 0), $"pixel ({x}, {y})");
    }

    [Test]
    public void TheLeftHalfOfTheMapFillsTheLeftHalfOfABoxThatLeavesTheImage()
    {
        // Columns 0..13 of the map on, 14..27 off; the box spans x 4..12, so pixels 4..7 are on. It also
        // runs past the image's bottom edge, where nothing is painted.
        var probabilities = new float[28 * 28];
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 14; x++) probabilities[y * 28 + x] = 1;
        var mask = CocoMask.Decode(MaskPaster.Paste(probabilities, 28, [4f, 5f, 12f, 20f], 10, 16, new byte[160]));
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 16; x++)
                Assert.That(mask[y * 16 + x], Is.EqualTo(x >= 4 && x < 8 && y >= 5 ? 1 : 0), $"pixel ({x}, {y})");
    }
}
