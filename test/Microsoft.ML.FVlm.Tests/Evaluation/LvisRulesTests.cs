using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>lvis-api's federated rules on hand-built cases (see <see cref="CocoRulesTests"/> for the arithmetic).</summary>
public class LvisRulesTests
{
    private const double Tolerance = 1e-12;
    private const double One = 1 / (1 + 2.220446049250313e-16);

    [Test]
    public void DetectionsOfUnverifiedCategoriesAreDroppedAndNegativesCount()
    {
        // Image 1 is annotated with category 1 and verified free of category 3 (neg_category_ids); category 2
        // is neither, so its detection there (0.9) is dropped. Image 2 has categories 2 and 3.
        // cat 1 (f): one TP: AP 1. cat 2 (c): only its TP on image 2 remains: AP 1 (0.5 if the drop failed).
        // cat 3 (r): FP on image 1 (0.8, counted: the category is negative there), then TP on image 2 (0.7): AP 0.5.
        // APr = 0.5, APc = APf = 1, AP = (1 + 1 + 0.5) / 3.
        var metrics = new EvaluationScenario()
            .Image(1, negative: [3]).Image(2)
            .Category(1, "f").Category(2, "c").Category(3, "r")
            .Truth(1, 1, [0, 0, 10, 10]).Truth(2, 2, [0, 0, 10, 10]).Truth(2, 3, [20, 0, 10, 10])
            .Detection(1, 2, [50, 50, 10, 10], 0.9)
            .Detection(1, 3, [50, 50, 10, 10], 0.8)
            .Detection(1, 1, [0, 0, 10, 10], 0.5)
            .Detection(2, 2, [0, 0, 10, 10], 0.3)
            .Detection(2, 3, [20, 0, 10, 10], 0.7)
            .Lvis();

        Assert.That(metrics.AveragePrecisionRare, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionCommon, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionFrequent, Is.EqualTo(One).Within(Tolerance));
        Assert.That(metrics.AveragePrecision, Is.EqualTo((One + One + 0.5) / 3).Within(Tolerance));
        Assert.That(metrics["AR@300"], Is.EqualTo(1.0));
    }

    [Test]
    public void UnmatchedDetectionsOfNotExhaustiveCategoriesAreIgnored()
    {
        // Category 1 is annotated in image 1 but not exhaustively: the unmatched detection (0.9) is ignored,
        // the matched one (0.8) still counts. Ranks: ignored, TP: precision [0, 1/(1+eps)] -> AP 1.
        // In image 2 the category is exhaustive: there the same pattern gives FP then TP.
        // Both images together: ranks (scores 0.9, 0.85, 0.8, 0.75) = ignored, FP, TP, TP; relevant 2.
        // tp [0, 0, 1, 2], fp [0, 1, 1, 1]; recall [0, 0, 0.5, 1]; precision [0, 0, 1/2, 2/3]; envelope all 2/3.
        // AP = 2/3.
        var metrics = new EvaluationScenario()
            .Image(1, notExhaustive: [1]).Image(2)
            .Category(1, "f")
            .Truth(1, 1, [0, 0, 10, 10]).Truth(2, 1, [0, 0, 10, 10])
            .Detection(1, 1, [50, 50, 10, 10], 0.9)
            .Detection(1, 1, [0, 0, 10, 10], 0.8)
            .Detection(2, 1, [50, 50, 10, 10], 0.85)
            .Detection(2, 1, [0, 0, 10, 10], 0.75)
            .Lvis();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(2.0 / 3.0).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionFrequent, Is.EqualTo(2.0 / 3.0).Within(Tolerance));
        Assert.That(metrics.AveragePrecisionRare, Is.EqualTo(-1.0));
    }

    [Test]
    public void ZeroAreaAnnotationsAndDetectionsAreNotEvaluated()
    {
        // lvis-api selects annotations and results with get_ann_ids(cat_ids=...), which keeps 0 < area < inf.
        // Truth 2 has area 0 and detection 0.9 a zero-width box (area w * h = 0): both are dropped, so
        // 0.8 is a TP on truth 1 and 0.7 an FP: AP = 1/(1+eps). Were they kept: FP, TP, TP -> AP 2/3.
        // Expected figures printed by lvis-api LVISEval (bbox) on this input written as JSON.
        var metrics = new EvaluationScenario()
            .Image(1).Category(1, "f")
            .Truth(1, 1, [0, 0, 10, 10]).Truth(1, 1, [20, 0, 10, 10], area: 0)
            .Detection(1, 1, [0, 0, 10, 0], 0.9)
            .Detection(1, 1, [0, 0, 10, 10], 0.8)
            .Detection(1, 1, [20, 0, 10, 10], 0.7)
            .Lvis();

        Assert.That(metrics.AveragePrecision, Is.EqualTo(0.9999999999999998).Within(1e-15));
        Assert.That(metrics.AveragePrecision50, Is.EqualTo(0.9999999999999999).Within(1e-15));
        Assert.That(metrics.AveragePrecisionFrequent, Is.EqualTo(0.9999999999999998).Within(1e-15));
        Assert.That(metrics["AR@300"], Is.EqualTo(1.0));
    }

    [Test]
    public void ThreeHundredPerImageAreKeptBeforeTheFederatedDrop()
    {
        // Image 1: 300 detections of category 2 (not annotated, not negative: dropped later) outscore the
        // only true positive of category 1. lvis-api keeps the image's top 300 first, so the true positive
        // is gone: AP = 0 and AR@300 = 0. With a limit of 301 it survives: AP = 1.
        var scenario = new EvaluationScenario()
            .Image(1).Category(1, "f").Category(2, "r")
            .Truth(1, 1, [0, 0, 10, 10]);
        for (int i = 0; i < 300; i++)
            scenario.Detection(1, 2, [100 + i, 100, 10, 10], 0.9);
        scenario.Detection(1, 1, [0, 0, 10, 10], 0.5);

        var metrics = scenario.Lvis();
        Assert.That(metrics.AveragePrecision, Is.EqualTo(0.0));
        Assert.That(metrics["AR@300"], Is.EqualTo(0.0));
        Assert.That(metrics.AveragePrecisionRare, Is.EqualTo(-1.0));
        Assert.That(scenario.Lvis(maxDetectionsPerImage: 301).AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void LvisHasNoPerCategoryLimitOfOneHundred()
    {
        // 150 false positives of category 1 outscore its true positive (the 151st). COCO cuts it at 100 (AP 0);
        // LVIS keeps it: ranks 150 FP then TP, precision at the TP 1/151, envelope 1/151 everywhere: AP = 1/151.
        var scenario = new EvaluationScenario()
            .Image(1).Category(1, "f")
            .Truth(1, 1, [0, 0, 10, 10]);
        for (int i = 0; i < 150; i++)
            scenario.Detection(1, 1, [100 + i, 100, 10, 10], 0.9);
        scenario.Detection(1, 1, [0, 0, 10, 10], 0.5);

        Assert.That(scenario.Lvis().AveragePrecision, Is.EqualTo(1.0 / 151).Within(Tolerance));
        Assert.That(scenario.Coco().AveragePrecision, Is.EqualTo(0.0));
    }
}
