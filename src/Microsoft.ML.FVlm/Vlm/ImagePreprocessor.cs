using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// Turns images into the image encoder's <c>pixel_values</c>: resize so the longest side is the
/// target size (bilinear, half-pixel centres, aspect kept), normalise with the manifest's mean and
/// std, and place top-left on a zero canvas (the mean colour) whose sides are multiples of the size
/// multiple. Boxes in the original image map to the canvas by multiplying with <see cref="PreparedBatch.Scales"/>.
/// </summary>
internal sealed class ImagePreprocessor
{
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly int _sizeMultiple;

    public ImagePreprocessor(VlmManifest manifest)
    {
        _mean = manifest.ImageEncoder.PixelMean;
        _std = manifest.ImageEncoder.PixelStd;
        _sizeMultiple = manifest.ImageEncoder.SizeMultiple;
    }

    /// <summary>A batch ready for the image encoder.</summary>
    /// <param name="PixelValues">[N, 3, H, W] float32, H and W multiples of the size multiple.</param>
    /// <param name="Scales">Per image: canvas pixels per original pixel.</param>
    /// <param name="Sizes">Per image: (height, width) of the resized image on the canvas.</param>
    public sealed record PreparedBatch(Tensor PixelValues, float[] Scales, (int Height, int Width)[] Sizes);

    /// <summary>Prepares <paramref name="images"/> at longest side <paramref name="imageSize"/>.</summary>
    public PreparedBatch Prepare(IReadOnlyList<MLImage> images, int imageSize)
    {
        if (images.Count == 0) throw new ArgumentException("At least one image is needed.", nameof(images));
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "The image size must be positive.");
        var scales = new float[images.Count];
        var sizes = new (int, int)[images.Count];
        int canvasHeight = 0, canvasWidth = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var image = images[i] ?? throw new ArgumentException($"Image {i} of the batch is missing.", nameof(images));
            if (image.Width <= 0 || image.Height <= 0) throw new ArgumentException($"Image {i} of the batch is empty.", nameof(images));
            scales[i] = (float)imageSize / Math.Max(image.Width, image.Height);
            sizes[i] = (Math.Max(1, (int)Math.Round(image.Height * scales[i])), Math.Max(1, (int)Math.Round(image.Width * scales[i])));
            canvasHeight = Math.Max(canvasHeight, RoundUp(sizes[i].Item1));
            canvasWidth = Math.Max(canvasWidth, RoundUp(sizes[i].Item2));
        }

        var pixels = zeros(images.Count, 3, canvasHeight, canvasWidth);
        Parallel.For(0, images.Count, i =>
        {
            int plane = canvasHeight * canvasWidth;
            var destination = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(pixels.bytes).Slice(i * 3 * plane, 3 * plane);
            Render(images[i], new ImageTransform(scales[i], 0, 0, false), sizes[i].Item1, sizes[i].Item2, canvasWidth, destination);
        });
        return new PreparedBatch(pixels, scales, sizes);
    }

    /// <summary>
    /// Renders one image through <paramref name="transform"/> into a [3, canvasHeight, canvasWidth]
    /// slice: canvas pixel (x, y) shows the scaled (and optionally mirrored) image at
    /// (x + OffsetX, y + OffsetY). Only the top-left <paramref name="height"/> x <paramref name="width"/>
    /// pixels are written; the rest keep their value (zero: the mean colour).
    /// </summary>
    public void Render(MLImage image, ImageTransform transform, int height, int width, int canvasWidth, Span<float> destination)
    {
        int plane = destination.Length / 3;
        ResizeNormalise(image, transform, height, width, canvasWidth, plane, destination);
    }

    /// <summary>Rounds up to the size multiple.</summary>
    public int RoundUp(int value) => (value + _sizeMultiple - 1) / _sizeMultiple * _sizeMultiple;

    private void ResizeNormalise(MLImage image, ImageTransform transform, int height, int width, int canvasWidth, int plane, Span<float> destination)
    {
        ReadOnlySpan<byte> source = image.Pixels;
        int sourceWidth = image.Width, sourceHeight = image.Height;
        if (source.Length != sourceWidth * sourceHeight * 4)
            throw new ArgumentException($"Image of {sourceWidth}x{sourceHeight} has {source.Length} bytes of pixels; expected 4 per pixel ({image.PixelFormat}).");
        (int r, int g, int b) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 1, 0),
            MLPixelFormat.Rgba32 => (0, 1, 2),
            _ => throw new ArgumentException($"Image pixel format {image.PixelFormat} is not supported; expected Bgra32 or Rgba32."),
        };
        var scaleR = 1f / (255f * _std[0]); var scaleG = 1f / (255f * _std[1]); var scaleB = 1f / (255f * _std[2]);
        float shiftR = _mean[0] / _std[0], shiftG = _mean[1] / _std[1], shiftB = _mean[2] / _std[2];
        float inverse = 1f / transform.Scale;
        float scaledWidth = sourceWidth * transform.Scale;

        // Horizontal taps are the same for every row: compute them once.
        var left = new int[width]; var right = new int[width]; var weightRight = new float[width];
        for (int x = 0; x < width; x++)
        {
            // Canvas x -> scaled-image x (mirrored if flipped) -> source x, at pixel centres.
            float scaledX = x + transform.OffsetX + 0.5f;
            if (transform.Flip) scaledX = scaledWidth - scaledX;
            float sx = Math.Clamp(scaledX * inverse - 0.5f, 0, sourceWidth - 1);
            left[x] = (int)sx;
            right[x] = Math.Min(left[x] + 1, sourceWidth - 1);
            weightRight[x] = sx - left[x];
        }
        for (int y = 0; y < height; y++)
        {
            float sy = Math.Clamp((y + transform.OffsetY + 0.5f) * inverse - 0.5f, 0, sourceHeight - 1);
            int top = (int)sy, bottom = Math.Min(top + 1, sourceHeight - 1);
            float wy = sy - top;
            var rowTop = source.Slice(top * sourceWidth * 4, sourceWidth * 4);
            var rowBottom = source.Slice(bottom * sourceWidth * 4, sourceWidth * 4);
            int offset = y * canvasWidth;
            for (int x = 0; x < width; x++)
            {
                int a = left[x] * 4, c = right[x] * 4;
                float wx = weightRight[x];
                float w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
                float red = w00 * rowTop[a + r] + w01 * rowTop[c + r] + w10 * rowBottom[a + r] + w11 * rowBottom[c + r];
                float green = w00 * rowTop[a + g] + w01 * rowTop[c + g] + w10 * rowBottom[a + g] + w11 * rowBottom[c + g];
                float blue = w00 * rowTop[a + b] + w01 * rowTop[c + b] + w10 * rowBottom[a + b] + w11 * rowBottom[c + b];
                destination[offset + x] = red * scaleR - shiftR;
                destination[plane + offset + x] = green * scaleG - shiftG;
                destination[2 * plane + offset + x] = blue * scaleB - shiftB;
            }
        }
    }
}

/// <summary>
/// Where an image lands on the encoder's canvas: scaled by <see cref="Scale"/>, mirrored
/// left-right if <see cref="Flip"/>, then shifted so that scaled pixel (OffsetX, OffsetY) is at the
/// canvas origin (a crop when positive). Boxes follow the same map.
/// </summary>
internal readonly record struct ImageTransform(float Scale, int OffsetX, int OffsetY, bool Flip);
