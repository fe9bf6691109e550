using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Tests.Data;

public class CocoMaskTests
{
    // 3 x 2 mask, row-major:   0 1
    //                          1 1
    //                          0 0
    // column-major pixels: 0 1 0 | 1 1 0  ->  runs 1 0s, 1 1, 1 0, 2 1s, 1 0
    private static readonly byte[] Small = [0, 1, 1, 1, 0, 0];

    [Test]
    public void EncodeGivesColumnMajorRunsStartingWithZeros()
    {
        RleMask rle = CocoMask.Encode(Small, 3, 2);
        Assert.That(rle.Counts.ToArray(), Is.EqualTo(new uint[] { 1, 1, 1, 2, 1 }));
        Assert.That(CocoMask.Area(rle), Is.EqualTo(3));
    }

    [Test]
    public void EncodeOfMaskStartingOnHasLeadingZeroRun()
    {
        // 2 x 2, only the top-left pixel on: column-major 1 0 0 0.
        RleMask rle = CocoMask.Encode([1, 0, 0, 0], 2, 2);
        Assert.That(rle.Counts.ToArray(), Is.EqualTo(new uint[] { 0, 1, 3 }));
    }

    [Test]
    public void DecodeInvertsEncodeOnRandomMasks()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            int h = random.Next(1, 40), w = random.Next(1, 40);
            var mask = new byte[h * w];
            double density = random.NextDouble();
            for (int i = 0; i < mask.Length; i++)
                mask[i] = (byte)(random.NextDouble() < density ? 1 : 0);
            RleMask rle = CocoMask.Encode(mask, h, w);
            Assert.That(CocoMask.Decode(rle), Is.EqualTo(mask));
            Assert.That(CocoMask.Area(rle), Is.EqualTo(mask.Count(b => b != 0)));
            Assert.That(CocoMask.FromCompressedString(CocoMask.ToCompressedString(rle), h, w), Is.EqualTo(rle));
        }
    }

    [Test]
    public void CompressedStringOfSmallCountsIsOneCharacterEach()
    {
        // [1,1,1,2,1]: the first three counts as is -> "111"; then 2-1 = 1 -> "1"; 1-1 = 0 -> "0".
        RleMask rle = CocoMask.Encode(Small, 3, 2);
        Assert.That(CocoMask.ToCompressedString(rle), Is.EqualTo("11110"));
    }

    [Test]
    public void CompressedStringUsesContinuationSignAndDeltas()
    {
        // h=30, w=1, counts [1, 20, 6, 3]:
        // 1 -> '1'; 20 has the sign bit (0x10) set so needs a continuation: 20|0x20 = 52 -> 'd', then 0 -> '0';
        // 6 (the third count is not delta-coded) -> '6'; 3 - 20 = -17: low 5 bits 15 with continuation (47 -> '_'), then -1 -> 31 -> 'O'.
        var rle = new RleMask(30, 1, [1, 20, 6, 3]);
        Assert.That(CocoMask.ToCompressedString(rle), Is.EqualTo("1d06_O"));
        Assert.That(CocoMask.FromCompressedString("1d06_O", 30, 1).Counts.ToArray(), Is.EqualTo(new uint[] { 1, 20, 6, 3 }));
    }

    [Test]
    public void CompressedStringOfCountAbove31SpansTwoCharacters()
    {
        // 33 = 1 + 1*32: 'Q' (1|0x20 = 33 -> 81) then '1'; then 2, 5 as is, and 1 - 2 = -1 -> 'O'.
        var rle = new RleMask(41, 1, [33, 2, 5, 1]);
        Assert.That(CocoMask.ToCompressedString(rle), Is.EqualTo("Q125O"));
        Assert.That(CocoMask.FromCompressedString("Q125O", 41, 1), Is.EqualTo(rle));
    }

    [Test]
    public void FromCompressedStringRejectsBadInput()
    {
        Assert.Throws<FormatException>(() => CocoMask.FromCompressedString("11110", 3, 3)); // sums to 6, not 9
        Assert.Throws<FormatException>(() => CocoMask.FromCompressedString("1~", 3, 2));    // '~' out of range
        Assert.Throws<FormatException>(() => CocoMask.FromCompressedString("1Q", 3, 2));    // ends in a continuation
    }

    [Test]
    public void ToBoxIsTightBoxOfOnPixels()
    {
        Assert.That(CocoMask.ToBox(CocoMask.Encode(Small, 3, 2)), Is.EqualTo(new double[] { 0, 0, 2, 2 }));
        // 4 x 3, only pixel (x=2, y=3) on.
        var mask = new byte[12];
        mask[3 * 3 + 2] = 1;
        Assert.That(CocoMask.ToBox(CocoMask.Encode(mask, 4, 3)), Is.EqualTo(new double[] { 2, 3, 1, 1 }));
        Assert.That(CocoMask.ToBox(CocoMask.Encode(new byte[6], 3, 2)), Is.EqualTo(new double[] { 0, 0, 0, 0 }));
    }

    [Test]
    public void MergeUnionAndIntersection()
    {
        RleMask a = CocoMask.Encode([1, 0, 0, 0], 2, 2); // top-left
        RleMask b = CocoMask.Encode([1, 1, 0, 0], 2, 2); // top row
        RleMask c = CocoMask.Encode([0, 1, 0, 1], 2, 2); // right column
        Assert.That(CocoMask.Merge([a, b], intersect: false).Counts.ToArray(), Is.EqualTo(new uint[] { 0, 1, 1, 1, 1 }));
        Assert.That(CocoMask.Merge([a, b], intersect: true).Counts.ToArray(), Is.EqualTo(new uint[] { 0, 1, 3 }));
        Assert.That(CocoMask.Decode(CocoMask.Merge([a, b, c], intersect: false)), Is.EqualTo(new byte[] { 1, 1, 0, 1 }));
        Assert.That(CocoMask.Area(CocoMask.Merge([a, c], intersect: true)), Is.EqualTo(0));
        Assert.Throws<ArgumentException>(() => CocoMask.Merge([a, CocoMask.Encode(new byte[6], 3, 2)], false));
    }

    [Test]
    public void MergeMatchesPixelwiseOnRandomMasks()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 30; trial++)
        {
            int h = random.Next(1, 20), w = random.Next(1, 20);
            byte[] x = RandomMask(random, h * w), y = RandomMask(random, h * w);
            RleMask rx = CocoMask.Encode(x, h, w), ry = CocoMask.Encode(y, h, w);
            byte[] union = CocoMask.Decode(CocoMask.Merge([rx, ry], false));
            byte[] inter = CocoMask.Decode(CocoMask.Merge([rx, ry], true));
            for (int i = 0; i < x.Length; i++)
            {
                Assert.That(union[i], Is.EqualTo(x[i] | y[i]));
                Assert.That(inter[i], Is.EqualTo(x[i] & y[i]));
            }
            double[,] iou = CocoMask.Iou([rx], [ry], null);
            int i1 = inter.Count(v => v != 0), u1 = union.Count(v => v != 0);
            Assert.That(iou[0, 0], Is.EqualTo(i1 == 0 ? 0 : (double)i1 / u1).Within(1e-12));
        }
    }

    [Test]
    public void IouWithCrowdUsesDetectionArea()
    {
        RleMask a = CocoMask.Encode([1, 0, 0, 0], 2, 2); // area 1
        RleMask b = CocoMask.Encode([1, 1, 0, 0], 2, 2); // area 2
        RleMask far = CocoMask.Encode([0, 0, 0, 1], 2, 2);
        double[,] plain = CocoMask.Iou([a, b, far], [b, a], [false, false]);
        Assert.That(plain[0, 0], Is.EqualTo(0.5));
        Assert.That(plain[1, 0], Is.EqualTo(1.0));
        Assert.That(plain[1, 1], Is.EqualTo(0.5));
        Assert.That(plain[2, 0], Is.EqualTo(0.0));
        double[,] crowd = CocoMask.Iou([a, b], [b, a], [true, true]);
        Assert.That(crowd[0, 0], Is.EqualTo(1.0)); // 1 / area(a)
        Assert.That(crowd[1, 1], Is.EqualTo(0.5)); // 1 / area(b)
        double[,] mismatch = CocoMask.Iou([CocoMask.Encode([1, 1, 1, 1, 1, 1], 3, 2)], [b], null);
        Assert.That(mismatch[0, 0], Is.EqualTo(-1.0));
    }

    [Test]
    public void BoxIouPlainAndCrowd()
    {
        double[] d = [0, 0, 2, 2], g = [1, 1, 2, 2], away = [5, 5, 1, 1];
        double[,] plain = CocoMask.BoxIou([d, away], [g], null);
        Assert.That(plain[0, 0], Is.EqualTo(1.0 / 7.0).Within(1e-15)); // 1 / (4 + 4 - 1)
        Assert.That(plain[1, 0], Is.EqualTo(0.0));
        Assert.That(CocoMask.BoxIou([d], [g], [true])[0, 0], Is.EqualTo(0.25)); // 1 / area(d)
    }

    [Test]
    public void SquarePolygonCoversPixelsWhoseCentresAreInside()
    {
        // Square from (1,1) to (4,4) in a 6 x 6 image. On the 5x grid its top edge crosses the
        // pixel-centre columns x = 1,2,3 at row ceil(5.5/5 - .5) = 1 and the bottom edge at
        // row ceil(20.5/5 - .5) = 4: toggles at 7,13,19 and 10,16,22 -> runs 7,3,3,3,3,3,14.
        RleMask rle = CocoMask.FromPolygons([[1, 1, 4, 1, 4, 4, 1, 4]], 6, 6);
        Assert.That(rle.Counts.ToArray(), Is.EqualTo(new uint[] { 7, 3, 3, 3, 3, 3, 14 }));
        Assert.That(CocoMask.Area(rle), Is.EqualTo(9));
        Assert.That(CocoMask.ToBox(rle), Is.EqualTo(new double[] { 1, 1, 3, 3 }));
    }

    [Test]
    public void TrianglePolygonFollowsUpsampledRounding()
    {
        // Triangle (0,0) (4,0) (0,4) in 5 x 5. The top edge toggles rows 0 of columns 0..3; the
        // hypotenuse toggles (3,0) (2,1) (1,2) (0,3). (3,0) is toggled twice and cancels, leaving
        // sorted toggles 0,3,5,7,10,11,[15,15],25 -> runs 0,3,2,2,3,1,14: the 6 pixels with x + y < 3.
        RleMask rle = CocoMask.FromPolygons([[0, 0, 4, 0, 0, 4]], 5, 5);
        Assert.That(rle.Counts.ToArray(), Is.EqualTo(new uint[] { 0, 3, 2, 2, 3, 1, 14 }));
        byte[] pixels = CocoMask.Decode(rle);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                Assert.That(pixels[y * 5 + x], Is.EqualTo(x + y < 3 ? 1 : 0), $"pixel x={x} y={y}");
    }

    [Test]
    public void PolygonListWithFourNumbersIsReadAsBoxesLikePycocotools()
    {
        // frPyObjects reads [[x, y, w, h]] as a box: [1,1,3,3] is the square above.
        RleMask fromBox = CocoMask.FromPolygons([[1, 1, 3, 3]], 6, 6);
        Assert.That(fromBox, Is.EqualTo(CocoMask.FromPolygons([[1, 1, 4, 1, 4, 4, 1, 4]], 6, 6)));
    }

    [Test]
    public void SeveralPolygonsAreUnited()
    {
        RleMask rle = CocoMask.FromPolygons([[1, 1, 4, 1, 4, 4, 1, 4], [0, 0, 4, 0, 0, 4]], 6, 6);
        // Square (9 pixels, x,y in 1..3) united with the triangle (x + y < 3): overlap is (1,1).
        Assert.That(CocoMask.Area(rle), Is.EqualTo(9 + 6 - 1));
    }

    [Test]
    public void PolygonOutsideImageIsClipped()
    {
        // The square (1,1)-(4,4) in a 3 x 3 image keeps columns 1..2 and rows 1..2.
        RleMask rle = CocoMask.FromPolygons([[1, 1, 4, 1, 4, 4, 1, 4]], 3, 3);
        Assert.That(CocoMask.Decode(rle), Is.EqualTo(new byte[] { 0, 0, 0, 0, 1, 1, 0, 1, 1 }));
    }

    private static byte[] RandomMask(Random random, int length)
    {
        var mask = new byte[length];
        for (int i = 0; i < length; i++)
            mask[i] = (byte)random.Next(2);
        return mask;
    }

    [TestCase(0, 0, 7, 5)]      // top-left corner
    [TestCase(4, 6, 8, 10)]     // touching the bottom-right corner
    [TestCase(3, 2, 0, 4)]      // empty window
    [TestCase(5, 9, 1, 1)]      // one pixel
    public void EncodeWindowGivesTheRunsOfTheWholeMask(int top, int left, int windowHeight, int windowWidth)
    {
        const int height = 12, width = 16;
        var random = new Random(top * 31 + left);
        var window = new byte[windowHeight * windowWidth];
        for (int i = 0; i < window.Length; i++) window[i] = (byte)(random.Next(3) == 0 ? 0 : 1);
        var whole = new byte[height * width];
        for (int y = 0; y < windowHeight; y++)
            for (int x = 0; x < windowWidth; x++)
                whole[(top + y) * width + left + x] = window[y * windowWidth + x];

        Assert.That(CocoMask.EncodeWindow(window, top, left, windowHeight, windowWidth, height, width), Is.EqualTo(CocoMask.Encode(whole, height, width)));
    }

    [Test]
    public void EncodeWindowRejectsAWindowOutsideTheMask()
    {
        var error = Assert.Throws<ArgumentException>(() => CocoMask.EncodeWindow(new byte[6], 10, 0, 3, 2, 12, 16));
        Assert.That(error!.Message, Does.Contain("does not fit a 12 x 16 mask"));
    }
}
