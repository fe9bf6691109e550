namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Precision/recall curves per category from matched detections, as pycocotools' <c>accumulate</c>:
/// detections of a category over all images sorted by score (stable), cumulative TP/FP, the precision
/// envelope, and precision read at 101 recall points with a left-sided search.
/// </summary>
internal sealed class PrecisionAccumulator
{
    private const double NumPySpacingOfOne = 2.220446049250313e-16; // np.spacing(1)

    private readonly EvaluationParameters _parameters;

    public PrecisionAccumulator(EvaluationParameters parameters) => _parameters = parameters;

    /// <summary>
    /// Fills <paramref name="precision"/> [T, R, K, A, M] and <paramref name="recall"/> [T, K, A, M] (C order);
    /// entries of (category, area) without relevant ground truth stay -1.
    /// </summary>
    public void Accumulate(EvaluationSet set, byte[] outcomes, int[] relevantGroundTruth, out double[] precision, out double[] recall)
    {
        var p = _parameters;
        int t = p.IouThresholdCount, r = p.RecallThresholds.Length, k = set.CategoryCount, a = p.AreaRangeCount, m = p.MaxDetections.Length;
        var precisionResult = new double[t * r * k * a * m];
        var recallResult = new double[t * k * a * m];
        Array.Fill(precisionResult, -1.0);
        Array.Fill(recallResult, -1.0);
        Parallel.For(0, k, () => new Scratch(), (category, _, scratch) =>
        {
            AccumulateCategory(set, category, outcomes, relevantGroundTruth, precisionResult, recallResult, scratch);
            return scratch;
        }, _ => { });
        precision = precisionResult;
        recall = recallResult;
    }

    private void AccumulateCategory(EvaluationSet set, int category, byte[] outcomes, int[] relevantGroundTruth,
        double[] precision, double[] recall, Scratch scratch)
    {
        var p = _parameters;
        int areaCount = p.AreaRangeCount, thresholdCount = p.IouThresholdCount, recallCount = p.RecallThresholds.Length;
        int categoryCount = set.CategoryCount, maxDetCount = p.MaxDetections.Length;
        int[] pairs = set.CategoryPairs[category];

        // All detections of the category, images in id order, each image's detections in score order; then a
        // stable sort by descending score (the position breaks ties).
        int total = 0;
        foreach (int pair in pairs)
            total += set.PairDetectionCount[pair];
        var entries = new (double NegativeScore, int Position, int Detection, int Rank)[total];
        int n = 0;
        foreach (int pair in pairs)
        {
            int start = set.PairDetectionStart[pair], count = set.PairDetectionCount[pair];
            for (int j = 0; j < count; j++, n++)
                entries[n] = (-set.DetectionScore[start + j], n, start + j, j);
        }
        Array.Sort(entries);
        scratch.Ensure(total, thresholdCount);

        for (int area = 0; area < areaCount; area++)
        {
            int relevant = 0;
            foreach (int pair in pairs)
                relevant += relevantGroundTruth[pair * areaCount + area];
            if (relevant == 0)
                continue;
            // The outcomes of this area range in score order, threshold-major, so each curve reads contiguous bytes.
            var sorted = scratch.Outcomes;
            for (int e = 0; e < total; e++)
            {
                int offset = (entries[e].Detection * areaCount + area) * thresholdCount;
                for (int th = 0; th < thresholdCount; th++)
                    sorted[th * total + e] = outcomes[offset + th];
            }
            for (int md = 0; md < maxDetCount; md++)
            {
                int maxDet = p.MaxDetections[md];
                for (int th = 0; th < thresholdCount; th++)
                {
                    int count = Curve(entries, sorted.AsSpan(th * total, total), maxDet, relevant, scratch);
                    int recallIndex = ((th * categoryCount + category) * areaCount + area) * maxDetCount + md;
                    recall[recallIndex] = count > 0 ? scratch.Recall[count - 1] : 0;
                    // For each recall point, the first index whose recall reaches it (searchsorted, side='left');
                    // points beyond the last recall get precision 0.
                    var pr = scratch.Precision;
                    int index = 0;
                    for (int ri = 0; ri < recallCount; ri++)
                    {
                        double point = p.RecallThresholds[ri];
                        while (index < count && scratch.Recall[index] < point)
                            index++;
                        double value = index < count ? pr[index] : 0.0;
                        precision[(((th * recallCount + ri) * categoryCount + category) * areaCount + area) * maxDetCount + md] = value;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Recall and enveloped precision at each kept detection (rank within its image below <paramref name="maxDet"/>);
    /// ignored detections take a place but count as neither TP nor FP. Returns the number of kept detections.
    /// </summary>
    private static int Curve((double, int, int, int Rank)[] entries, ReadOnlySpan<byte> outcomes, int maxDet, int relevant, Scratch scratch)
    {
        var rc = scratch.Recall;
        var pr = scratch.Precision;
        int count = 0;
        double tp = 0, fp = 0;
        for (int e = 0; e < outcomes.Length; e++)
        {
            if (entries[e].Rank >= maxDet)
                continue;
            byte outcome = outcomes[e];
            if (outcome == PairMatcher.TruePositive)
                tp++;
            else if (outcome == PairMatcher.FalsePositive)
                fp++;
            rc[count] = tp / relevant;
            pr[count] = tp / (fp + tp + NumPySpacingOfOne);
            count++;
        }
        for (int i = count - 1; i > 0; i--)
        {
            if (pr[i] > pr[i - 1])
                pr[i - 1] = pr[i];
        }
        return count;
    }

    private sealed class Scratch
    {
        public double[] Recall = new double[256];
        public double[] Precision = new double[256];
        public byte[] Outcomes = new byte[2560];

        public void Ensure(int size, int thresholds)
        {
            if (Recall.Length < size)
            {
                Recall = new double[size];
                Precision = new double[size];
            }
            if (Outcomes.Length < size * thresholds)
                Outcomes = new byte[size * thresholds];
        }
    }
}
