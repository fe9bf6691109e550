using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>
/// A small COCO case in Fixtures/ whose twelve figures were printed by pycocotools 2.0.x' COCOeval
/// (cocodataset/cocoapi cocoeval.py with maskApi.c, numpy 1.24, Python 3.11): <c>COCO(gt)</c>,
/// <c>gt.loadRes(dt)</c>, <c>COCOeval(gt, dt, iouType)</c>, evaluate / accumulate / summarize, then
/// <c>repr(float(v))</c> of each of <c>stats</c>. It has crowd regions (one an uncompressed RLE), objects in every
/// area range and exactly on the 32² and 96² edges, duplicate and
/// tied detections, a category without ground truth and 131 detections on one image (the 100 limit).
/// The results carry boxes only, so for segm loadRes rasterises each box as a polygon.
/// </summary>
public class PycocotoolsFixtureTests
{
    // pycocotools prints the same twelve figures for bbox and segm on this input.
    private static readonly (string Name, double Value)[] Expected =
    [
        ("AP", 0.6238448844884488), ("AP50", 0.6985698569856986), ("AP75", 0.6985698569856986),
        ("APs", 0.5801155115511549), ("APm", 0.7811881188118812), ("APl", 0.8999999999999999),
        ("AR1", 0.33999999999999997), ("AR10", 0.9199999999999999), ("AR100", 0.9199999999999999),
        ("ARs", 0.95), ("ARm", 0.9), ("ARl", 0.9),
    ];

    [TestCase(DetectionIouType.BoundingBox)]
    [TestCase(DetectionIouType.Segmentation)]
    public void FiguresEqualThoseOfPycocotools(DetectionIouType iouType)
    {
        string folder = Path.Combine(RepositoryRoot.Path, "test", "Microsoft.ML.FVlm.Tests", "Evaluation", "Fixtures");
        CocoDataset groundTruth = CocoJson.ReadDataset(Path.Combine(folder, "hand-case-gt.json"));
        List<CocoAnnotation> detections = CocoJson.ReadResults(Path.Combine(folder, "hand-case-dt.json"));

        DetectionMetrics metrics = new MLContext().EvaluateDetections(detections, groundTruth, new DetectionEvaluationOptions { IouType = iouType });

        foreach (var (name, value) in Expected)
            Assert.That(metrics[name], Is.EqualTo(value).Within(1e-15), name);
    }
}
