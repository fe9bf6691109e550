using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>The visible pixels of one instance, read off the instance-id map.</summary>
internal readonly record struct VisibleMask(RleMask Mask, int Area, int Left, int Top, int Right, int Bottom)
{
    /// <summary>COCO box [x, y, width, height] in pixels: the tight box of the visible pixels (empty mask: all zeros).</summary>
    public double[] Box => Area == 0 ? [0, 0, 0, 0] : [Left, Top, Right - Left + 1, Bottom - Top + 1];
}

/// <summary>
/// Encodes every instance of an instance-id map as COCO RLE in one column-major pass (no per-instance
/// binary mask is ever materialised). Id 0 is background; id k is instance k.
/// </summary>
internal static class InstanceMapEncoder
{
    public static VisibleMask[] Encode(ReadOnlySpan<byte> ids, int height, int width, int instanceCount)
    {
        var counts = new List<uint>[instanceCount + 1];
        var lastChange = new long[instanceCount + 1];
        var area = new int[instanceCount + 1];
        var left = new int[instanceCount + 1];
        var top = new int[instanceCount + 1];
        var right = new int[instanceCount + 1];
        var bottom = new int[instanceCount + 1];
        for (int k = 1; k <= instanceCount; k++)
        {
            counts[k] = new List<uint>(16);
            left[k] = top[k] = int.MaxValue;
            right[k] = bottom[k] = -1;
        }

        long position = 0;
        int previous = 0;
        for (int x = 0; x < width; x++)
        {
            for (int y = 0, offset = x; y < height; y++, offset += width, position++)
            {
                int id = ids[offset];
                if (id != previous)
                {
                    // A run of `previous` ends here and a run of `id` starts: each instance sees one toggle.
                    if (previous != 0)
                        Toggle(counts[previous], lastChange, previous, position);
                    if (id != 0)
                        Toggle(counts[id], lastChange, id, position);
                    previous = id;
                }
                if (id != 0)
                {
                    area[id]++;
                    if (top[id] > y) top[id] = y;
                    if (bottom[id] < y) bottom[id] = y;
                    if (right[id] != x)
                    {
                        if (left[id] > x) left[id] = x;
                        right[id] = x;
                    }
                }
            }
        }

        long total = (long)height * width;
        var result = new VisibleMask[instanceCount];
        for (int k = 1; k <= instanceCount; k++)
        {
            counts[k].Add((uint)(total - lastChange[k]));
            var rle = new RleMask(height, width, counts[k].ToArray());
            result[k - 1] = new VisibleMask(rle, area[k], left[k], top[k], right[k], bottom[k]);
        }
        return result;
    }

    private static void Toggle(List<uint> counts, long[] lastChange, int id, long position)
    {
        counts.Add((uint)(position - lastChange[id]));
        lastChange[id] = position;
    }
}
