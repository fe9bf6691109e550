using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Mask IoU with the crowd rule (pycocotools <c>rleIou</c>, through <see cref="CocoMask.Iou"/>).</summary>
internal sealed class MaskOverlap : IOverlapComputer
{
    private readonly RleMask[] _detectionMasks;
    private readonly RleMask[] _groundTruthMasks;

    /// <param name="detectionMasks">Mask per grouped detection.</param>
    /// <param name="groundTruthMasks">Mask per grouped ground truth.</param>
    public MaskOverlap(RleMask[] detectionMasks, RleMask[] groundTruthMasks)
    {
        _detectionMasks = detectionMasks;
        _groundTruthMasks = groundTruthMasks;
    }

    public void Compute(EvaluationSet set, int pair, Span<double> iou)
    {
        int d0 = set.PairDetectionStart[pair], dn = set.PairDetectionCount[pair];
        int g0 = set.PairGroundTruthStart[pair], gn = set.PairGroundTruthCount[pair];
        var result = CocoMask.Iou(
            new ArraySegment<RleMask>(_detectionMasks, d0, dn),
            new ArraySegment<RleMask>(_groundTruthMasks, g0, gn),
            new ArraySegment<bool>(set.GroundTruthCrowd, g0, gn));
        for (int d = 0; d < dn; d++)
        {
            for (int g = 0; g < gn; g++)
                iou[d * gn + g] = result[d, g];
        }
    }
}
