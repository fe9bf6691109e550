using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// Pastes a low-resolution mask probability map (M x M, over a box) into an image and encodes the
/// pixels above one half as COCO RLE. Each image pixel inside the box samples the map bilinearly at
/// its centre, so the mask is as sharp as the image allows, whatever the box size.
/// </summary>
internal static class MaskPaster
{
    /// <param name="probabilities">M x M values in [0, 1], row-major.</param>
    /// <param name="size">M.</param>
    /// <param name="box">x0 y0 x1 y1 in image pixels.</param>
    /// <param name="height">Image height.</param>
    /// <param name="width">Image width.</param>
    /// <param name="buffer">Scratch of at least height x width bytes.</param>
    public static RleMask Paste(ReadOnlySpan<float> probabilities, int size, ReadOnlySpan<float> box, int height, int width, byte[] buffer)
    {
        float x0 = box[0], y0 = box[1], boxWidth = Math.Max(box[2] - box[0], 1e-3f), boxHeight = Math.Max(box[3] - box[1], 1e-3f);
        int left = Math.Clamp((int)Math.Floor(x0), 0, width), right = Math.Clamp((int)Math.Ceiling(box[2]), 0, width);
        int top = Math.Clamp((int)Math.Floor(y0), 0, height), bottom = Math.Clamp((int)Math.Ceiling(box[3]), 0, height);
        int windowWidth = right - left, windowHeight = bottom - top;
        // Only the box's pixels can be on: fill that window, and encode the runs around it without scanning the image.
        var window = buffer.AsSpan(0, windowHeight * windowWidth);
        window.Clear();
        float scaleX = size / boxWidth, scaleY = size / boxHeight;
        for (int y = top; y < bottom; y++)
        {
            float my = (y + 0.5f - y0) * scaleY - 0.5f;
            if (my < -0.5f || my > size - 0.5f) continue;
            my = Math.Clamp(my, 0, size - 1);
            int my0 = (int)my, my1 = Math.Min(my0 + 1, size - 1);
            float wy = my - my0;
            for (int x = left; x < right; x++)
            {
                float mx = (x + 0.5f - x0) * scaleX - 0.5f;
                if (mx < -0.5f || mx > size - 0.5f) continue;
                mx = Math.Clamp(mx, 0, size - 1);
                int mx0 = (int)mx, mx1 = Math.Min(mx0 + 1, size - 1);
                float wx = mx - mx0;
                float value = (1 - wy) * ((1 - wx) * probabilities[my0 * size + mx0] + wx * probabilities[my0 * size + mx1])
                            + wy * ((1 - wx) * probabilities[my1 * size + mx0] + wx * probabilities[my1 * size + mx1]);
                if (value >= 0.5f) window[(y - top) * windowWidth + (x - left)] = 1;
            }
        }
        return CocoMask.EncodeWindow(window, top, left, windowHeight, windowWidth, height, width);
    }
}
