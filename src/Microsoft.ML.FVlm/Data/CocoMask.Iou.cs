namespace Microsoft.ML.FVlm.Data;

public static partial class CocoMask
{
    /// <summary>
    /// Mask IoU of every detection with every ground truth (pycocotools <c>rleIou</c>), computed on
    /// the runs without decoding; pairs whose boxes do not overlap are skipped.
    /// For a crowd ground truth the score is intersection / detection area.
    /// </summary>
    /// <param name="detections">D masks.</param>
    /// <param name="groundTruths">G masks.</param>
    /// <param name="isCrowd">G flags, or null for none crowd.</param>
    /// <returns><c>[D, G]</c> scores in [0, 1]; -1 where the two masks differ in size.</returns>
    public static double[,] Iou(IReadOnlyList<RleMask> detections, IReadOnlyList<RleMask> groundTruths, IReadOnlyList<bool>? isCrowd)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(groundTruths);
        CheckCrowd(isCrowd, groundTruths.Count);
        int dCount = detections.Count, gCount = groundTruths.Count;
        var dBoxes = new double[dCount * 4];
        var gBoxes = new double[gCount * 4];
        for (int d = 0; d < dCount; d++)
            ToBox(detections[d], dBoxes.AsSpan(4 * d, 4));
        for (int g = 0; g < gCount; g++)
            ToBox(groundTruths[g], gBoxes.AsSpan(4 * g, 4));
        var result = new double[dCount, gCount];
        for (int g = 0; g < gCount; g++)
        {
            RleMask gt = groundTruths[g];
            bool crowd = isCrowd is not null && isCrowd[g];
            for (int d = 0; d < dCount; d++)
            {
                if (!BoxesOverlap(dBoxes.AsSpan(4 * d, 4), gBoxes.AsSpan(4 * g, 4)))
                    continue;
                RleMask dt = detections[d];
                if (dt.Height != gt.Height || dt.Width != gt.Width)
                {
                    result[d, g] = -1;
                    continue;
                }
                result[d, g] = RunIou(dt.RawCounts, gt.RawCounts, crowd);
            }
        }
        return result;
    }

    /// <summary>
    /// Box IoU of every detection with every ground truth (pycocotools <c>bbIou</c>); boxes are
    /// <c>[x, y, w, h]</c> in pixels. For a crowd ground truth the score is intersection / detection area.
    /// </summary>
    /// <returns><c>[D, G]</c> scores.</returns>
    public static double[,] BoxIou(IReadOnlyList<double[]> detections, IReadOnlyList<double[]> groundTruths, IReadOnlyList<bool>? isCrowd)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(groundTruths);
        CheckCrowd(isCrowd, groundTruths.Count);
        var result = new double[detections.Count, groundTruths.Count];
        for (int g = 0; g < groundTruths.Count; g++)
        {
            double[] gb = groundTruths[g];
            CheckBox(gb, "groundTruths", g);
            bool crowd = isCrowd is not null && isCrowd[g];
            double ga = gb[2] * gb[3];
            for (int d = 0; d < detections.Count; d++)
            {
                double[] db = detections[d];
                if (g == 0)
                    CheckBox(db, "detections", d);
                double w = Math.Min(db[2] + db[0], gb[2] + gb[0]) - Math.Max(db[0], gb[0]);
                if (w <= 0)
                    continue;
                double h = Math.Min(db[3] + db[1], gb[3] + gb[1]) - Math.Max(db[1], gb[1]);
                if (h <= 0)
                    continue;
                double inter = w * h, da = db[2] * db[3];
                result[d, g] = inter / (crowd ? da : da + ga - inter);
            }
        }
        return result;
    }

    private static bool BoxesOverlap(ReadOnlySpan<double> a, ReadOnlySpan<double> b) =>
        Math.Min(a[2] + a[0], b[2] + b[0]) - Math.Max(a[0], b[0]) > 0
        && Math.Min(a[3] + a[1], b[3] + b[1]) - Math.Max(a[1], b[1]) > 0;

    // Walks both run lists at once, counting union and intersection pixels.
    private static double RunIou(uint[] a, uint[] b, bool crowd)
    {
        uint ca = a[0], cb = b[0];
        int ia = 1, ib = 1;
        bool va = false, vb = false;
        long inter = 0, union = 0, ct = 1;
        while (ct > 0)
        {
            uint c = Math.Min(ca, cb);
            if (va || vb)
            {
                union += c;
                if (va && vb)
                    inter += c;
            }
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
        }
        if (inter == 0)
            return 0;
        if (crowd)
        {
            union = 0;
            for (int j = 1; j < a.Length; j += 2)
                union += a[j];
        }
        return (double)inter / union;
    }

    private static void CheckCrowd(IReadOnlyList<bool>? isCrowd, int groundTruthCount)
    {
        if (isCrowd is not null && isCrowd.Count != groundTruthCount)
            throw new ArgumentException(
                $"isCrowd has {isCrowd.Count} flags but there are {groundTruthCount} ground truths.", nameof(isCrowd));
    }

    private static void CheckBox(double[] box, string name, int index)
    {
        if (box is null || box.Length != 4)
            throw new ArgumentException($"{name}[{index}] must be a box [x, y, w, h] of 4 numbers.", name);
    }
}
