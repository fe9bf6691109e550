using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

public class ImagePreprocessorTests
{
    private static readonly VlmManifest Manifest = new()
    {
        ImageEncoder = new VlmManifest.ImageEncoderSection
        {
            SizeMultiple = 32,
            PixelMean = [0.5f, 0.25f, 0.0f],
            PixelStd = [0.5f, 0.25f, 1.0f],
        },
    };

    [Test]
    public void NormalisesPadsAndReportsScale()
    {
        // 40 x 20 (width x height) BGRA image: red = x, green = y, blue = 255.
        var pixels = new byte[40 * 20 * 4];
        for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++)
        {
            int i = (y * 40 + x) * 4;
            pixels[i] = 255; pixels[i + 1] = (byte)y; pixels[i + 2] = (byte)x; pixels[i + 3] = 255;
        }
        using var image = MLImage.CreateFromPixels(40, 20, MLPixelFormat.Bgra32, pixels);
        using var scope = NewDisposeScope();

        var batch = new ImagePreprocessor(Manifest).Prepare([image], imageSize: 40);

        // Longest side 40 already: scale 1, canvas padded to 64 x 32 (multiples of 32).
        Assert.That(batch.Scales[0], Is.EqualTo(1f));
        Assert.That(batch.Sizes[0], Is.EqualTo((20, 40)));
        Assert.That(batch.PixelValues.shape, Is.EqualTo(new long[] { 1, 3, 32, 64 }));
        var values = batch.PixelValues;
        // Red at x = 10: (10 / 255 - 0.5) / 0.5; green at y = 7: (7 / 255 - 0.25) / 0.25; blue 255: (1 - 0) / 1.
        Assert.That(values[0, 0, 3, 10].item<float>(), Is.EqualTo((10f / 255 - 0.5f) / 0.5f).Within(1e-5));
        Assert.That(values[0, 1, 7, 10].item<float>(), Is.EqualTo((7f / 255 - 0.25f) / 0.25f).Within(1e-5));
        Assert.That(values[0, 2, 7, 10].item<float>(), Is.EqualTo(1f).Within(1e-5));
        Assert.That(values[0, .., 20.., ..].abs().max().item<float>(), Is.EqualTo(0f), "rows below the image are padding");
        Assert.That(values[0, .., .., 40..].abs().max().item<float>(), Is.EqualTo(0f), "columns right of the image are padding");
    }

    [Test]
    public void HalvingAveragesNeighbouringPixels()
    {
        // 4 x 2 RGBA image, red channel 0, 100, 200, 250 along x; halving samples midway between pixel pairs.
        byte[] reds = [0, 100, 200, 250];
        var pixels = new byte[4 * 2 * 4];
        for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++)
            pixels[(y * 4 + x) * 4] = reds[x];
        using var image = MLImage.CreateFromPixels(4, 2, MLPixelFormat.Rgba32, pixels);
        using var scope = NewDisposeScope();

        var batch = new ImagePreprocessor(Manifest).Prepare([image], imageSize: 2);

        Assert.That(batch.Scales[0], Is.EqualTo(0.5f));
        Assert.That(batch.Sizes[0], Is.EqualTo((1, 2)));
        // Output x = 0 samples source x = 0.5: (0 + 100) / 2 = 50; x = 1 samples 2.5: (200 + 250) / 2 = 225.
        Assert.That(batch.PixelValues[0, 0, 0, 0].item<float>(), Is.EqualTo((50f / 255 - 0.5f) / 0.5f).Within(1e-5));
        Assert.That(batch.PixelValues[0, 0, 0, 1].item<float>(), Is.EqualTo((225f / 255 - 0.5f) / 0.5f).Within(1e-5));
    }
}
