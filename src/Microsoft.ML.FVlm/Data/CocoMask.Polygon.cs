namespace Microsoft.ML.FVlm.Data;

public static partial class CocoMask
{
    /// <summary>
    /// Rasterises a COCO polygon segmentation as pycocotools' <c>annToRLE</c> does:
    /// each polygon <c>[x1, y1, x2, y2, ...]</c> (pixels) by <c>rleFrPoly</c>, then the union.
    /// A list whose first entry has exactly 4 numbers is read as boxes <c>[x, y, w, h]</c>, as <c>frPyObjects</c>
    /// reads an array (given a JSON list of that shape, or an empty one, pycocotools fails instead; evaluation
    /// rejects both before rasterising). An empty list gives an all-zero mask.
    /// </summary>
    public static RleMask FromPolygons(IReadOnlyList<double[]> polygons, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(polygons);
        if (polygons.Count == 0)
            return new RleMask(height, width, [checked((uint)((long)height * width))]);
        bool boxes = polygons[0].Length == 4;
        var parts = new RleMask[polygons.Count];
        for (int i = 0; i < polygons.Count; i++)
            parts[i] = boxes ? FromBox(polygons[i], height, width) : FromPolygon(polygons[i], height, width);
        return Merge(parts, intersect: false);
    }

    /// <summary>Rasterises a box <c>[x, y, w, h]</c> in pixels (pycocotools <c>rleFrBbox</c>).</summary>
    public static RleMask FromBox(ReadOnlySpan<double> box, int height, int width)
    {
        if (box.Length != 4)
            throw new ArgumentException($"A box has 4 numbers [x, y, w, h], got {box.Length}.", nameof(box));
        double xs = box[0], ys = box[1], xe = xs + box[2], ye = ys + box[3];
        return FromPolygon([xs, ys, xs, ye, xe, ye, xe, ys], height, width);
    }

    /// <summary>
    /// Rasterises one polygon <c>[x1, y1, x2, y2, ...]</c> (pixels) exactly as pycocotools'
    /// <c>rleFrPoly</c>: the outline is traced on a 5x finer grid, and a pixel is on when its
    /// centre lies inside. A trailing odd coordinate is ignored.
    /// </summary>
    public static RleMask FromPolygon(ReadOnlySpan<double> polygon, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        uint pixels = checked((uint)((long)height * width));
        int k = polygon.Length / 2;
        if (k == 0)
            return new RleMask(height, width, [pixels]);
        const double scale = 5;

        // Vertices on the upsampled grid (C's (int) cast truncates toward zero), closed.
        var x = new int[k + 1];
        var y = new int[k + 1];
        for (int j = 0; j < k; j++)
        {
            x[j] = (int)(scale * polygon[2 * j] + .5);
            y[j] = (int)(scale * polygon[2 * j + 1] + .5);
        }
        x[k] = x[0];
        y[k] = y[0];

        // Every grid point along each edge, stepping along its longer axis.
        long points = 0;
        for (int j = 0; j < k; j++)
            points += Math.Max(Math.Abs(x[j] - x[j + 1]), Math.Abs(y[j] - y[j + 1])) + 1;
        var u = new int[points];
        var v = new int[points];
        int n = 0;
        for (int j = 0; j < k; j++)
        {
            int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
            int dx = Math.Abs(xe - xs), dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip)
            {
                (xs, xe) = (xe, xs);
                (ys, ye) = (ye, ys);
            }
            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
            {
                for (int d = 0; d <= dx; d++)
                {
                    int t = flip ? dx - d : d;
                    u[n] = t + xs;
                    v[n] = (int)(ys + s * t + .5);
                    n++;
                }
            }
            else
            {
                for (int d = 0; d <= dy; d++)
                {
                    int t = flip ? dy - d : d;
                    v[n] = t + ys;
                    u[n] = (int)(xs + s * t + .5);
                    n++;
                }
            }
        }

        // Where the outline crosses a pixel-centre column, the first pixel below it in that column
        // toggles; each crossing is recorded as its column-major index.
        var toggles = new List<uint>(n + 1);
        for (int j = 1; j < n; j++)
        {
            if (u[j] == u[j - 1])
                continue;
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / scale - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > width - 1)
                continue;
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / scale - .5;
            if (yd < 0)
                yd = 0;
            else if (yd > height)
                yd = height;
            yd = Math.Ceiling(yd);
            toggles.Add((uint)((int)xd * height + (int)yd));
        }
        toggles.Add(pixels);
        toggles.Sort();

        // Differences between successive toggles are the runs; a zero run (two crossings at one
        // pixel) cancels, joining its neighbours.
        var counts = new uint[toggles.Count];
        uint previous = 0;
        for (int j = 0; j < toggles.Count; j++)
        {
            uint t = toggles[j];
            counts[j] = t - previous;
            previous = t;
        }
        var runs = new uint[counts.Length];
        int m = 0, i = 0;
        runs[m++] = counts[i++];
        while (i < counts.Length)
        {
            if (counts[i] > 0)
                runs[m++] = counts[i++];
            else
            {
                i++;
                if (i < counts.Length)
                    runs[m - 1] += counts[i++];
            }
        }
        return new RleMask(height, width, runs.AsSpan(0, m).ToArray());
    }
}
