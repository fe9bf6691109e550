namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// COCO mask operations with the semantics of pycocotools' <c>maskApi.c</c>: encode, decode, the
/// compressed counts string, merge, area, bounding box, polygon rasterisation and IoU.
/// Masks handed in as arrays are row-major <c>[Height, Width]</c>; runs are column-major.
/// </summary>
public static partial class CocoMask
{
    /// <summary>Run-length encodes a mask (pycocotools <c>rleEncode</c>).</summary>
    /// <param name="mask">Row-major <c>[height, width]</c> pixels; nonzero means on.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="width">Mask width.</param>
    public static RleMask Encode(ReadOnlySpan<byte> mask, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        if (mask.Length != (long)height * width)
            throw new ArgumentException($"Mask has {mask.Length} pixels, expected {height} x {width}.", nameof(mask));
        return EncodeWindow(mask, 0, 0, height, width, height, width);
    }

    /// <summary>
    /// Run-length encodes a mask that is zero outside a window, given only the window: the same runs
    /// as <see cref="Encode"/> of the whole mask, in time proportional to the window's area plus the width.
    /// </summary>
    /// <param name="window">Row-major <c>[windowHeight, windowWidth]</c> pixels of the window.</param>
    /// <param name="top">Row of the window's first row in the mask.</param>
    /// <param name="left">Column of the window's first column in the mask.</param>
    /// <param name="windowHeight">Rows of the window.</param>
    /// <param name="windowWidth">Columns of the window.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="width">Mask width.</param>
    internal static RleMask EncodeWindow(ReadOnlySpan<byte> window, int top, int left, int windowHeight, int windowWidth, int height, int width)
    {
        if (top < 0 || left < 0 || windowHeight < 0 || windowWidth < 0 || top + windowHeight > height || left + windowWidth > width
            || window.Length != (long)windowHeight * windowWidth)
            throw new ArgumentException($"Window {windowHeight} x {windowWidth} at ({top}, {left}) with {window.Length} pixels does not fit a {height} x {width} mask.");
        var counts = new List<uint>();
        bool previous = false;
        uint run = 0;
        void Add(bool on, uint length)
        {
            if (length == 0) return;
            if (on != previous)
            {
                counts.Add(run);
                run = 0;
                previous = on;
            }
            run += length;
        }
        for (int x = 0; x < width; x++)
        {
            int column = x - left;
            if (column < 0 || column >= windowWidth)
            {
                Add(false, (uint)height);
                continue;
            }
            Add(false, (uint)top);
            for (int y = 0; y < windowHeight; y++) Add(window[y * windowWidth + column] != 0, 1);
            Add(false, (uint)(height - top - windowHeight));
        }
        counts.Add(run);
        return new RleMask(height, width, counts.ToArray());
    }

    /// <summary>Decodes a mask into a new row-major <c>[Height, Width]</c> array of 0 and 1.</summary>
    public static byte[] Decode(RleMask rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        var mask = new byte[(long)rle.Height * rle.Width];
        Decode(rle, mask);
        return mask;
    }

    /// <summary>Decodes a mask into <paramref name="rowMajorDestination"/> (<c>[Height, Width]</c>, overwritten with 0 and 1).</summary>
    public static void Decode(RleMask rle, Span<byte> rowMajorDestination)
    {
        ArgumentNullException.ThrowIfNull(rle);
        int h = rle.Height, w = rle.Width;
        if (rowMajorDestination.Length != (long)h * w)
            throw new ArgumentException(
                $"Destination has {rowMajorDestination.Length} pixels, expected {h} x {w}.", nameof(rowMajorDestination));
        rowMajorDestination.Clear();
        uint[] counts = rle.RawCounts;
        long position = 0;
        for (int j = 0; j < counts.Length; j++)
        {
            long end = position + counts[j];
            // A run of ones covers the rest of one column, then whole columns, then part of one.
            for (long p = position; (j & 1) == 1 && p < end;)
            {
                int x = (int)(p / h), y = (int)(p - (long)x * h);
                int yEnd = (int)Math.Min(h, y + (end - p));
                for (int row = y; row < yEnd; row++)
                    rowMajorDestination[row * w + x] = 1;
                p += yEnd - y;
            }
            position = end;
        }
    }

    /// <summary>Number of on pixels (pycocotools <c>rleArea</c>).</summary>
    public static long Area(RleMask rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        uint[] counts = rle.RawCounts;
        long area = 0;
        for (int j = 1; j < counts.Length; j += 2)
            area += counts[j];
        return area;
    }

    /// <summary>
    /// Tight bounding box <c>[x, y, w, h]</c> in pixels (pycocotools <c>rleToBbox</c>): all zeros for
    /// an empty mask; a run of ones that wraps into the next column makes the box span all rows.
    /// </summary>
    public static double[] ToBox(RleMask rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        var box = new double[4];
        ToBox(rle, box);
        return box;
    }

    internal static void ToBox(RleMask rle, Span<double> box)
    {
        uint h = (uint)rle.Height;
        uint[] counts = rle.RawCounts;
        int m = counts.Length / 2 * 2;
        if (m == 0 || h == 0)
        {
            box.Clear();
            return;
        }
        uint xs = (uint)rle.Width, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
        for (int j = 0; j < m; j++)
        {
            cc += counts[j];
            // Even j: first pixel of a run of ones; odd j: last pixel of it.
            uint t = cc - (uint)(j % 2);
            uint y = t % h, x = (t - y) / h;
            if (j % 2 == 0)
                xp = x;
            else if (xp < x)
            {
                ys = 0;
                ye = h - 1;
            }
            xs = Math.Min(xs, x);
            xe = Math.Max(xe, x);
            ys = Math.Min(ys, y);
            ye = Math.Max(ye, y);
        }
        box[0] = xs;
        box[1] = ys;
        box[2] = xe - xs + 1;
        box[3] = ye - ys + 1;
    }

    /// <summary>
    /// Union (<paramref name="intersect"/> false) or intersection of masks of one size
    /// (pycocotools <c>rleMerge</c>). No masks give a 0 x 0 mask.
    /// </summary>
    /// <exception cref="ArgumentException">The masks differ in size.</exception>
    public static RleMask Merge(IReadOnlyList<RleMask> masks, bool intersect)
    {
        ArgumentNullException.ThrowIfNull(masks);
        if (masks.Count == 0)
            return new RleMask(0, 0, [0u]);
        RleMask first = masks[0];
        if (masks.Count == 1)
            return new RleMask(first.Height, first.Width, (uint[])first.RawCounts.Clone());
        int h = first.Height, w = first.Width;
        uint[] accumulated = first.RawCounts;
        for (int i = 1; i < masks.Count; i++)
        {
            RleMask b = masks[i];
            if (b.Height != h || b.Width != w)
                throw new ArgumentException(
                    $"Cannot merge masks of different sizes: mask {i} is {b.Height} x {b.Width}, mask 0 is {h} x {w}.", nameof(masks));
            accumulated = MergeTwo(accumulated, b.RawCounts, intersect);
        }
        return new RleMask(h, w, accumulated);
    }

    private static uint[] MergeTwo(uint[] a, uint[] b, bool intersect)
    {
        var result = new uint[a.Length + b.Length + 1];
        int m = 0, ia = 1, ib = 1;
        uint ca = a[0], cb = b[0], cc = 0;
        long ct = 1; // remaining pixels; long so that two large runs cannot wrap to 0
        bool va = false, vb = false, v = false;
        while (ct > 0)
        {
            uint c = Math.Min(ca, cb);
            cc += c;
            ct = 0;
            ca -= c;
            if (ca == 0 && ia < a.Length)
            {
                ca = a[ia++];
                va = !va;
            }
            ct += ca;
            cb -= c;
            if (cb == 0 && ib < b.Length)
            {
                cb = b[ib++];
                vb = !vb;
            }
            ct += cb;
            bool vp = v;
            v = intersect ? va && vb : va || vb;
            if (v != vp || ct == 0)
            {
                result[m++] = cc;
                cc = 0;
            }
        }
        return result.AsSpan(0, m).ToArray();
    }
}
