namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Box IoU with the crowd rule, in the arithmetic order of pycocotools' <c>bbIou</c> so results agree bit for bit.</summary>
internal sealed class BoxOverlap : IOverlapComputer
{
    private readonly double[] _detectionBoxes;
    private readonly double[] _groundTruthBoxes;

    /// <param name="detectionBoxes">[x, y, w, h] per grouped detection, flattened.</param>
    /// <param name="groundTruthBoxes">[x, y, w, h] per grouped ground truth, flattened.</param>
    public BoxOverlap(double[] detectionBoxes, double[] groundTruthBoxes)
    {
        _detectionBoxes = detectionBoxes;
        _groundTruthBoxes = groundTruthBoxes;
    }

    public void Compute(EvaluationSet set, int pair, Span<double> iou)
    {
        int d0 = set.PairDetectionStart[pair], dn = set.PairDetectionCount[pair];
        int g0 = set.PairGroundTruthStart[pair], gn = set.PairGroundTruthCount[pair];
        for (int d = 0; d < dn; d++)
        {
            var det = _detectionBoxes.AsSpan((d0 + d) * 4, 4);
            for (int g = 0; g < gn; g++)
            {
                var gt = _groundTruthBoxes.AsSpan((g0 + g) * 4, 4);
                iou[d * gn + g] = Iou(det, gt, set.GroundTruthCrowd[g0 + g]);
            }
        }
    }

    /// <summary>IoU of two [x, y, w, h] boxes; for a crowd region, intersection over the detection's area.</summary>
    public static double Iou(ReadOnlySpan<double> detection, ReadOnlySpan<double> groundTruth, bool crowd)
    {
        double w = Math.Min(detection[2] + detection[0], groundTruth[2] + groundTruth[0]) - Math.Max(detection[0], groundTruth[0]);
        if (w <= 0)
            return 0;
        double h = Math.Min(detection[3] + detection[1], groundTruth[3] + groundTruth[1]) - Math.Max(detection[1], groundTruth[1]);
        if (h <= 0)
            return 0;
        double intersection = w * h;
        double detectionArea = detection[2] * detection[3];
        double union = crowd ? detectionArea : detectionArea + groundTruth[2] * groundTruth[3] - intersection;
        return intersection / union;
    }
}
