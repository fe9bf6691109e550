using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// Ground truth of one training image after augmentation: boxes, classes and masks moved through
/// the same <see cref="ImageTransform"/> as the pixels. With masks, each box is the tight box of
/// its transformed mask (instances cropped away entirely are dropped); without, boxes are
/// transformed and clipped, and those with a side under one pixel are dropped.
/// </summary>
internal sealed record AugmentedTargets(float[] Boxes, long[] Classes, byte[]? Masks, int Count)
{
    /// <param name="boxes">4 per instance: x0 y0 x1 y1 in source pixels.</param>
    /// <param name="classes">0-based class per instance.</param>
    /// <param name="masks">Compressed COCO RLE per instance at source size, or null.</param>
    /// <param name="sourceHeight">Height of the source image.</param>
    /// <param name="sourceWidth">Width of the source image.</param>
    /// <param name="transform">The augmentation's map from source to canvas.</param>
    /// <param name="height">Height of the image's part of the canvas.</param>
    /// <param name="width">Width of the image's part of the canvas.</param>
    /// <param name="canvasSize">Side of the square canvas.</param>
    public static AugmentedTargets Create(ReadOnlySpan<float> boxes, ReadOnlySpan<long> classes, IReadOnlyList<string>? masks,
        int sourceHeight, int sourceWidth, ImageTransform transform, int height, int width, int canvasSize)
    {
        int count = classes.Length;
        var keptBoxes = new List<float>(count * 4);
        var keptClasses = new List<long>(count);
        var keptMasks = masks is null ? null : new List<byte[]>(count);
        float scaledWidth = sourceWidth * transform.Scale;
        for (int i = 0; i < count; i++)
        {
            if (masks is not null)
            {
                var source = CocoMask.Decode(CocoMask.FromCompressedString(masks[i], sourceHeight, sourceWidth));
                var canvas = TransformMask(source, sourceHeight, sourceWidth, transform, height, width, canvasSize, out var box);
                if (box is null) continue;
                keptBoxes.AddRange(box);
                keptMasks!.Add(canvas);
            }
            else
            {
                float x0 = boxes[i * 4] * transform.Scale, x1 = boxes[i * 4 + 2] * transform.Scale;
                if (transform.Flip) (x0, x1) = (scaledWidth - x1, scaledWidth - x0);
                x0 = Math.Clamp(x0 - transform.OffsetX, 0, width);
                x1 = Math.Clamp(x1 - transform.OffsetX, 0, width);
                float y0 = Math.Clamp(boxes[i * 4 + 1] * transform.Scale - transform.OffsetY, 0, height);
                float y1 = Math.Clamp(boxes[i * 4 + 3] * transform.Scale - transform.OffsetY, 0, height);
                if (x1 - x0 < 1 || y1 - y0 < 1) continue;
                keptBoxes.AddRange([x0, y0, x1, y1]);
            }
            keptClasses.Add(classes[i]);
        }
        byte[]? maskArray = null;
        if (keptMasks is not null)
        {
            int plane = canvasSize * canvasSize;
            maskArray = new byte[keptMasks.Count * plane];
            for (int i = 0; i < keptMasks.Count; i++) keptMasks[i].CopyTo(maskArray, i * plane);
        }
        return new AugmentedTargets(keptBoxes.ToArray(), keptClasses.ToArray(), maskArray, keptClasses.Count);
    }

    /// <summary>Nearest-neighbour resampling of a row-major mask onto the canvas; <paramref name="box"/> is its tight box, or null if empty.</summary>
    private static byte[] TransformMask(byte[] source, int sourceHeight, int sourceWidth, ImageTransform transform,
        int height, int width, int canvasSize, out float[]? box)
    {
        var canvas = new byte[canvasSize * canvasSize];
        float inverse = 1f / transform.Scale, scaledWidth = sourceWidth * transform.Scale;
        var columns = new int[width];
        for (int x = 0; x < width; x++)
        {
            float scaledX = x + transform.OffsetX + 0.5f;
            if (transform.Flip) scaledX = scaledWidth - scaledX;
            columns[x] = Math.Clamp((int)(scaledX * inverse), 0, sourceWidth - 1);
        }
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Clamp((int)((y + transform.OffsetY + 0.5f) * inverse), 0, sourceHeight - 1);
            int sourceRow = sy * sourceWidth, canvasRow = y * canvasSize;
            for (int x = 0; x < width; x++)
            {
                if (source[sourceRow + columns[x]] == 0) continue;
                canvas[canvasRow + x] = 1;
                if (x < minX) minX = x;
                if (x > maxX) maxX = x;
                if (y < minY) minY = y;
                maxY = y;
            }
        }
        box = maxX < 0 ? null : [minX, minY, maxX + 1, maxY + 1];
        return canvas;
    }
}
