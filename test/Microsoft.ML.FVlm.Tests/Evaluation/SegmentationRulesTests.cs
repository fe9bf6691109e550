using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>Mask (segm) evaluation on overlapping masks, where box IoU and mask IoU disagree.</summary>
public class SegmentationRulesTests
{
    private const double Tolerance = 1e-12;
    private const double One = 1 / (1 + 2.220446049250313e-16);

    [Test]
    public void OverlappingMasksAreMatchedByMaskIou()
    {
        // Image 10 x 10. Object A: rows 0-4 (50 px). Object B: rows 3-9 (70 px); A and B share rows 3-4 (20 px).
        // Detection 1 (0.9) = A: IoU 1 with A.
        // Detection 2 (0.8): rows 3-9 in columns 0-4 plus row 9 in columns 5-9 = 35 + 5 = 40 px. Its box equals
        // B's box (box IoU 1) but mask IoU with B = 40 / 70 = 0.5714..., with A = 10 / 80.
        // Thresholds 0.50, 0.55: TP, TP -> AP 1 / (1 + eps) each.
        // Thresholds 0.60 .. 0.95 (8): TP, FP; relevant 2: recall [0.5, 0.5], precision [1/(1+eps), 1/2];
        //   points 0 .. 0.50 (51) read 1/(1+eps), the rest 0: 51 / 101 * 1/(1+eps).
        // AP = (2 + 8 * 51/101) / 10 * 1/(1+eps); AP50 = 1; AP75 = 51/101.
        var a = EvaluationScenario.Mask(10, 10, (y, x) => y <= 4);
        var b = EvaluationScenario.Mask(10, 10, (y, x) => y >= 3);
        var d2 = EvaluationScenario.Mask(10, 10, (y, x) => (y >= 3 && x <= 4) || y == 9);
        var scenario = new EvaluationScenario()
            .Images(1).Categories(1)
            .TruthMask(1, 1, a).TruthMask(1, 1, b)
            .DetectionMask(1, 1, a, 0.9)
            .DetectionMask(1, 1, d2, 0.8);

        var segm = scenario.Coco(DetectionIouType.Segmentation);
        Assert.That(segm.AveragePrecision, Is.EqualTo((2 + 8 * 51.0 / 101) / 10 * One).Within(Tolerance));
        Assert.That(segm.AveragePrecision50, Is.EqualTo(One).Within(Tolerance));
        Assert.That(segm.AveragePrecision75, Is.EqualTo(51.0 / 101 * One).Within(Tolerance));
        // The same detections judged by their boxes are perfect.
        var bbox = scenario.Coco(DetectionIouType.BoundingBox);
        Assert.That(bbox.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }
}
