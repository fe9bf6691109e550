using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>
/// pycocotools' COCOeval rules on hand-built cases. Every expectation is worked out in the comments:
/// precision at a rank is tp / (fp + tp + eps) with eps = np.spacing(1), made non-increasing from the right
/// (the envelope), and read at recall points 0, 0.01, ..., 1 at the first rank whose recall reaches the point.
/// </summary>
public class CocoRulesTests
{
    private const double Tolerance = 1e-12;

    /// <summary>Precision of one true positive and no false positive: 1 / (1 + eps), which pycocotools prints as 1.000.</summary>
    private const double One = 1 / (1 + 2.220446049250313e-16);

    [Test]
    public void PerfectDetectionsScoreOneInEveryDefinedFigure()
    {
        // Three objects: small (area 100), medium (2500) and large (10000), each found exactly.
        var metrics = new EvaluationScenario()
            .Images(1, 2).Categories(1, 2)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 2, [0, 0, 50, 50]).Truth(2, 1, [10, 10, 100, 100])
            .Detection(1, 1, [0, 0, 10, 10], 0.9).Detection(1, 2, [0, 0, 50, 50], 0.9).Detection(2, 1, [10, 10, 100, 100], 0.9)
            .Coco();

        foreach (var (name, value) in metrics.Figures)
            Assert.That(value, Is.EqualTo(1.0).Within(Tolerance), name);
        // Category 1 has two true positives: precision [1/(1+eps), 2/(2+eps)] = [1/(1+eps), 1] (2 + eps rounds
        // to 2), envelope 1 everywhere: exactly 1. Category 2's single true positive reads 1/(1+eps) everywhere.
        Assert.That(metrics.PerCategoryAveragePrecision[1], Is.EqualTo(1.0));
        Assert.That(metrics.PerCategoryAveragePrecision[2], Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.PerCategoryAveragePrecision[2], Is.LessThan(1.0));
    }

    [Test]
    public void FalsePositiveRankedAboveTruePositiveHalvesPrecision()
    {
        // Ranks: FP (0.9), TP (0.8). tp = [0, 1], fp = [1, 1]; recall = [0, 1]; precision = [0, 1/2].
        // Envelope: [1/2, 1/2]. Every recall point reads 1/2, at every IoU (the TP has IoU 1): AP = AP50 = 0.5.
        // maxDets 1 keeps only the FP: recall 0, so AR1 = 0; AR10 = AR100 = 1.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10])
            .Detection(1, 1, [50, 50, 10, 10], 0.9)
            .Detection(1, 1, [0, 0, 10, 10], 0.8)
            .Coco();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics.AveragePrecision50, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics["AR1"], Is.EqualTo(0.0));
        Assert.That(metrics["AR10"], Is.EqualTo(1.0));
        Assert.That(metrics["AR100"], Is.EqualTo(1.0));
    }

    [Test]
    public void DuplicateDetectionIsAFalsePositive()
    {
        // Objects A and B; detections: A (0.9), duplicate of A (0.8), B (0.7). Ranks: TP, FP, TP.
        // tp = [1, 1, 2], fp = [0, 1, 1]; recall = [0.5, 0.5, 1]; precision = [1/(1+eps), 1/2, 2/3].
        // Envelope: [1/(1+eps), 2/3, 2/3]. Recall points 0 .. 0.50 (51 points) read rank 0, the other 50 read 2/3.
        // Same at every IoU threshold: AP = (51 / (1+eps) + 50 * 2/3) / 101 = 0.834983498...
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 1, [20, 0, 10, 10])
            .Detection(1, 1, [0, 0, 10, 10], 0.9)
            .Detection(1, 1, [0, 0, 10, 10], 0.8)
            .Detection(1, 1, [20, 0, 10, 10], 0.7)
            .Coco();

        double expected = (51 * One + 50 * (2.0 / 3.0)) / 101;
        Assert.That(metrics.AveragePrecision, Is.EqualTo(expected).Within(Tolerance));
        Assert.That(metrics.AveragePrecision, Is.EqualTo(0.834983498).Within(1e-9));
        Assert.That(metrics["AR100"], Is.EqualTo(1.0));
    }

    [Test]
    public void DetectionsInACrowdRegionAreIgnoredAndItIsNotCounted()
    {
        // Regular object R [0,0,10,10]; crowd region C [100,100,50,50]. Detections: d2 inside C (0.95),
        // d1 on R (0.9), d3 inside C (0.85), d4 elsewhere (0.5).
        // Crowd IoU = intersection / detection area: d2 400/400 = 1, d3 100/100 = 1 (a plain IoU would be
        // 0.16 and 0.04, i.e. two more false positives). A crowd region may absorb several detections.
        // Ranks: ignored, TP, ignored, FP; relevant ground truth = 1 (the crowd is ignored).
        // tp = [0, 1, 1, 1], fp = [0, 0, 0, 1]; recall = [0, 1, 1, 1]; precision = [0, 1/(1+eps), 1/(1+eps), 1/2].
        // Envelope: [1/(1+eps), 1/(1+eps), 1/(1+eps), 1/2]. Every point reads 1/(1+eps): AP = 1; AR100 = 1.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10])
            .Truth(1, 1, [100, 100, 50, 50], crowd: true)
            .Detection(1, 1, [110, 110, 20, 20], 0.95)
            .Detection(1, 1, [0, 0, 10, 10], 0.9)
            .Detection(1, 1, [120, 120, 10, 10], 0.85)
            .Detection(1, 1, [300, 300, 10, 10], 0.5)
            .Coco();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics["AR100"], Is.EqualTo(1.0));
    }

    [Test]
    public void CrowdRegionDoesNotTakeADetectionThatMatchesARegularObject()
    {
        // R [0,0,10,10] regular, C [0,0,20,20] crowd listed first. Detection [0,0,10,10]: crowd IoU with C = 1,
        // IoU with R = 1. Regular objects are tried first (ignored ones are sorted last), so it matches R: TP.
        // AP = 1 / (1 + eps). If it had gone to C it would be ignored and AP would be 0.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 20, 20], crowd: true)
            .Truth(1, 1, [0, 0, 10, 10])
            .Detection(1, 1, [0, 0, 10, 10], 0.9)
            .Coco();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void AreaRangesIgnoreObjectsAndUnmatchedDetectionsOutsideThem()
    {
        // Objects S (area 100, small), M (2500, medium), L (10000, large). Detections: a small false
        // positive F (area 100, 0.95), S exactly (0.9), M exactly (0.8); nothing on L.
        // all: ranks F, S, M = FP, TP, TP; relevant 3. recall [0, 1/3, 2/3], precision [0, 1/2, 2/3];
        //   envelope [2/3, 2/3, 2/3]. Points 0 .. 0.66 (67 points) read 2/3, the rest 0: AP = 67 * (2/3) / 101.
        //   AR = 2/3.
        // small: S relevant; F unmatched and small: FP; S: TP; M matches the ignored M: ignored.
        //   tp [0, 1, 1], fp [1, 1, 1]; precision [0, 1/2, 1/2] -> 1/2 everywhere. APs = 0.5, ARs = 1.
        // medium: M relevant; F unmatched and not medium: ignored; S matches the ignored S: ignored; M: TP.
        //   tp [0, 0, 1], fp [0, 0, 0]; precision [0, 0, 1/(1+eps)] -> envelope 1/(1+eps). APm = 1, ARm = 1.
        // large: L relevant, nothing matches it; every detection is ignored (matched to an ignored object or
        //   unmatched and outside the range). APl = 0, ARl = 0.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 1, [100, 0, 50, 50]).Truth(1, 1, [200, 200, 100, 100])
            .Detection(1, 1, [400, 400, 10, 10], 0.95)
            .Detection(1, 1, [0, 0, 10, 10], 0.9)
            .Detection(1, 1, [100, 0, 50, 50], 0.8)
            .Coco();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(67 * (2.0 / 3.0) / 101).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionSmall, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionMedium, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionLarge, Is.EqualTo(0.0));
        Assert.That(metrics["AR100"], Is.EqualTo(2.0 / 3.0).Within(Tolerance));
        Assert.That(metrics.AverageRecallSmall, Is.EqualTo(1.0));
        Assert.That(metrics.AverageRecallMedium, Is.EqualTo(1.0));
        Assert.That(metrics.AverageRecallLarge, Is.EqualTo(0.0));
    }

    [Test]
    public void AreaRangeUsesTheAnnotationAreaAndIncludesBothEnds()
    {
        // Object 1: box 100 x 100 but area field 500 (a thin polygon): small, not large.
        // Object 2: area exactly 32² = 1024: both small and medium (ranges are closed).
        // Both found exactly: APs = APm = 1; no large object: APl = ARl = -1 (undefined).
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1, 2)
            .Truth(1, 1, [0, 0, 100, 100], area: 500)
            .Truth(1, 2, [200, 200, 32, 32])
            .Detection(1, 1, [0, 0, 100, 100], 0.9)
            .Detection(1, 2, [200, 200, 32, 32], 0.9)
            .Coco();

        Assert.That(metrics.AveragePrecisionSmall, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionMedium, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionLarge, Is.EqualTo(-1.0));
        Assert.That(metrics.AverageRecallLarge, Is.EqualTo(-1.0));
    }

    [Test]
    public void MaxDetsLimitsDetectionsPerImageAndCategory()
    {
        // Twelve objects found exactly, scores descending: AR1 = 1/12, AR10 = 10/12, AR100 = 1.
        var scenario = new EvaluationScenario().Images(1).Categories(1);
        for (int i = 0; i < 12; i++)
            scenario.Truth(1, 1, [i * 20, 0, 10, 10]).Detection(1, 1, [i * 20, 0, 10, 10], 1.0 - i * 0.01);
        var metrics = scenario.Coco();

        Assert.That(metrics["AR1"], Is.EqualTo(1.0 / 12).Within(Tolerance));
        Assert.That(metrics["AR10"], Is.EqualTo(10.0 / 12).Within(Tolerance));
        Assert.That(metrics["AR100"], Is.EqualTo(1.0).Within(Tolerance));
        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void DetectionsBeyondOneHundredPerImageAndCategoryAreDropped()
    {
        // Category 1: one object, 100 false positives scored above its only true positive (the 101st): it
        // is cut, AP = AR = 0. Category 2 in the same image: its one true positive is its only detection
        // (the image's 102nd): the limit is per category, so AP = 1.
        var scenario = new EvaluationScenario().Images(1).Categories(1, 2)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 2, [0, 0, 10, 10]);
        for (int i = 0; i < 100; i++)
            scenario.Detection(1, 1, [100 + i, 100, 10, 10], 0.9);
        scenario.Detection(1, 1, [0, 0, 10, 10], 0.1).Detection(1, 2, [0, 0, 10, 10], 0.05);
        var metrics = scenario.Coco();

        Assert.That(metrics.PerCategoryAveragePrecision[1], Is.EqualTo(0.0));
        Assert.That(metrics.PerCategoryAveragePrecision[2], Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics["AR100"], Is.EqualTo(0.5).Within(Tolerance));
    }

    [Test]
    public void CategoriesWithoutGroundTruthAreLeftOutOfTheMean()
    {
        // Category 3 has no ground truth: its detections are false positives of nobody, its AP is -1 and
        // the mean is over categories 1 and 2 only. Category 9 is not a category of the ground truth at
        // all: its detections are not evaluated.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1, 2, 3)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 2, [20, 0, 10, 10])
            .Detection(1, 3, [40, 0, 10, 10], 0.99)
            .Detection(1, 9, [0, 0, 10, 10], 0.99)
            .Detection(1, 1, [0, 0, 10, 10], 0.9).Detection(1, 2, [20, 0, 10, 10], 0.9)
            .Coco();

        Assert.That(metrics.PerCategoryAveragePrecision[3], Is.EqualTo(-1.0));
        Assert.That(metrics.PerCategoryAveragePrecision.ContainsKey(9), Is.False);
        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void EqualScoresAcrossImagesKeepImageIdOrder()
    {
        // A false positive on image 1 and a true positive on image 2, both scored 0.5. The stable sort keeps
        // image order: FP first, AP = 0.5 (see the FP-above-TP case). With the images' ids swapped the true
        // positive comes first: precision [1/(1+eps), 1/2], envelope unchanged, every point reads rank 0: AP = 1.
        var fpFirst = new EvaluationScenario()
            .Images(1, 2).Categories(1)
            .Truth(2, 1, [0, 0, 10, 10])
            .Detection(2, 1, [0, 0, 10, 10], 0.5)
            .Detection(1, 1, [0, 0, 10, 10], 0.5)
            .Coco();
        var tpFirst = new EvaluationScenario()
            .Images(1, 2).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10])
            .Detection(2, 1, [0, 0, 10, 10], 0.5)
            .Detection(1, 1, [0, 0, 10, 10], 0.5)
            .Coco();

        Assert.That(fpFirst.AveragePrecision, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(tpFirst.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void IouThresholdsComparedAsPycocotoolsDoes()
    {
        // Object [0,0,10,10], detection [0,0,10,8]: IoU = 80/100 = 0.8. It counts at thresholds
        // 0.50 .. 0.80 (7 of 10; the test is iou < t) and not at 0.85, 0.90 (stored as 0.8999999999999999), 0.95.
        // AP = 7/10 * 1/(1+eps); AP75 = 1/(1+eps).
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1)
            .Truth(1, 1, [0, 0, 10, 10])
            .Detection(1, 1, [0, 0, 10, 8], 0.9)
            .Coco();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(0.7 * One).Within(Tolerance));
        Assert.That(metrics.AveragePrecision75, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void NovelSplitAveragesItsCategoriesApart()
    {
        // Category 1 (base): found, AP 1. Category 2 (novel): FP above TP, AP 0.5.
        var metrics = new EvaluationScenario()
            .Images(1).Categories(1, 2)
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 2, [20, 0, 10, 10])
            .Detection(1, 1, [0, 0, 10, 10], 0.9)
            .Detection(1, 2, [60, 0, 10, 10], 0.9).Detection(1, 2, [20, 0, 10, 10], 0.8)
            .Coco(novel: [2]);

        Assert.That(metrics.AveragePrecisionNovel, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionBase, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecision50Novel, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics.AveragePrecision, Is.EqualTo((0.5 + One) / 2).Within(Tolerance));
    }
}
