namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Greedy matching of one (image, category) pair at every area range and IoU threshold, with the rules of
/// pycocotools' <c>evaluateImg</c> (and lvis-api's <c>evaluate_img</c>, which differs only in having no crowd
/// regions and in ignoring unmatched detections of not-exhaustively annotated categories).
/// </summary>
/// <remarks>
/// Not thread-safe: holds scratch buffers. Use one instance per thread.
/// </remarks>
internal sealed class PairMatcher
{
    /// <summary>Detection outcome codes stored per (detection, area range, threshold).</summary>
    public const byte FalsePositive = 0, TruePositive = 1, Ignored = 2;

    private readonly EvaluationParameters _parameters;
    private double[] _iou = new double[64];
    private int[] _order = new int[16];
    private bool[] _ignore = new bool[16];
    private bool[] _taken = new bool[16];

    public PairMatcher(EvaluationParameters parameters) => _parameters = parameters;

    /// <summary>
    /// Matches the pair's detections to its ground truth. Writes <paramref name="outcomes"/> (per grouped detection,
    /// A × T codes, area-major) for the pair's detections, and <paramref name="relevantGroundTruth"/> (per pair, A
    /// counts of ground truth that is not ignored) for this pair.
    /// </summary>
    public void Match(EvaluationSet set, IOverlapComputer overlap, int pair, byte[] outcomes, int[] relevantGroundTruth)
    {
        int d0 = set.PairDetectionStart[pair], dn = set.PairDetectionCount[pair];
        int g0 = set.PairGroundTruthStart[pair], gn = set.PairGroundTruthCount[pair];
        int areaCount = _parameters.AreaRangeCount, thresholdCount = _parameters.IouThresholdCount;
        EnsureCapacity(dn, gn);

        if (gn == 0)
        {
            MatchWithoutGroundTruth(set, pair, outcomes, relevantGroundTruth);
            return;
        }
        var iou = _iou.AsSpan(0, dn * gn);
        if (dn > 0)
            overlap.Compute(set, pair, iou);

        for (int a = 0; a < areaCount; a++)
        {
            var (low, high) = _parameters.AreaRanges[a];
            // Ignore flags, and the ground truth ordered with ignored entries last (a stable sort on the flag).
            int relevant = 0;
            for (int g = 0; g < gn; g++)
            {
                double area = set.GroundTruthArea[g0 + g];
                _ignore[g] = set.GroundTruthIgnore[g0 + g] || area < low || area > high;
                if (!_ignore[g])
                    _order[relevant++] = g;
            }
            for (int g = 0, k = relevant; g < gn; g++)
            {
                if (_ignore[g])
                    _order[k++] = g;
            }
            relevantGroundTruth[pair * areaCount + a] = relevant;

            for (int t = 0; t < thresholdCount; t++)
            {
                Array.Clear(_taken, 0, gn);
                double threshold = Math.Min(_parameters.IouThresholds[t], 1 - 1e-10);
                for (int d = 0; d < dn; d++)
                {
                    int match = MatchOne(set, g0, gn, iou.Slice(d * gn, gn), threshold);
                    byte outcome;
                    if (match >= 0)
                    {
                        _taken[match] = true;
                        // pycocotools records the matched id; an annotation id of 0 reads back as "unmatched".
                        bool recorded = set.GroundTruthId[g0 + match] != 0;
                        outcome = _ignore[match] ? Ignored : recorded ? TruePositive : FalsePositive;
                    }
                    else
                    {
                        outcome = FalsePositive;
                    }
                    if (outcome == FalsePositive && IgnoreUnmatched(set, pair, d0 + d, low, high))
                        outcome = Ignored;
                    outcomes[((d0 + d) * areaCount + a) * thresholdCount + t] = outcome;
                }
            }
        }
    }

    /// <summary>No ground truth: every detection is a false positive, or ignored outside the area range.</summary>
    private void MatchWithoutGroundTruth(EvaluationSet set, int pair, byte[] outcomes, int[] relevantGroundTruth)
    {
        int d0 = set.PairDetectionStart[pair], dn = set.PairDetectionCount[pair];
        int areaCount = _parameters.AreaRangeCount, thresholdCount = _parameters.IouThresholdCount;
        for (int a = 0; a < areaCount; a++)
        {
            relevantGroundTruth[pair * areaCount + a] = 0;
            var (low, high) = _parameters.AreaRanges[a];
            for (int d = 0; d < dn; d++)
            {
                byte outcome = IgnoreUnmatched(set, pair, d0 + d, low, high) ? Ignored : FalsePositive;
                outcomes.AsSpan(((d0 + d) * areaCount + a) * thresholdCount, thresholdCount).Fill(outcome);
            }
        }
    }

    /// <summary>The best ground truth for one detection at one threshold (in <see cref="_order"/>), or -1.</summary>
    private int MatchOne(EvaluationSet set, int g0, int gn, ReadOnlySpan<double> iouRow, double threshold)
    {
        double best = threshold;
        int match = -1;
        for (int k = 0; k < gn; k++)
        {
            int g = _order[k];
            if (_taken[g] && !set.GroundTruthCrowd[g0 + g])
                continue;
            // Once matched to a regular region, ignored regions (sorted last) cannot take the detection.
            if (match > -1 && !_ignore[match] && _ignore[g])
                break;
            // Equal IoU replaces the current best: a later region wins ties.
            if (iouRow[g] < best)
                continue;
            best = iouRow[g];
            match = g;
        }
        return match;
    }

    /// <summary>Unmatched detections outside the area range (and, for LVIS, of a not-exhaustive category) are ignored.</summary>
    private static bool IgnoreUnmatched(EvaluationSet set, int pair, int detection, double low, double high)
    {
        double area = set.DetectionArea[detection];
        return area < low || area > high || set.PairNotExhaustive[pair];
    }

    private void EnsureCapacity(int detections, int groundTruths)
    {
        if (_iou.Length < detections * groundTruths)
            _iou = new double[Math.Max(detections * groundTruths, _iou.Length * 2)];
        if (_order.Length < groundTruths)
        {
            int size = Math.Max(groundTruths, _order.Length * 2);
            _order = new int[size];
            _ignore = new bool[size];
            _taken = new bool[size];
        }
    }
}
