using System.Text;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>
/// Polygon segmentations that pycocotools' <c>annToRLE</c> (<c>frPyObjects</c>, <c>rleFrPoly</c>) rejects or quietly
/// trims: mask evaluation fails where it fails, and warns where it drops something without a word.
/// </summary>
public class PolygonInputTests
{
    private const double Tolerance = 1e-12;
    private const double One = 1 / (1 + 2.220446049250313e-16);

    // One 20 x 20 image, one square 2..12 (100 pixels), found by one result with the same polygon.
    private const string Result = """
        [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.9, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}]
        """;

    [Test]
    public void EmptyPolygonListFailsMaskEvaluationAsInPycocotools()
    {
        // frPyObjects looks at the list's first entry: [] raises IndexError. Box evaluation never reads it.
        var groundTruth = GroundTruth("[]");

        var error = Assert.Throws<InvalidDataException>(() => Evaluate(groundTruth, Result, DetectionIouType.Segmentation));
        Assert.That(error!.Message, Does.StartWith("gt.json: annotations[0].segmentation: ")
            .And.Contain("annotation 7 (image_id 1)").And.Contain("[]"));
        Assert.That(Evaluate(groundTruth, Result, DetectionIouType.BoundingBox).AveragePrecision, Is.EqualTo(One).Within(Tolerance));
    }

    [Test]
    public void FirstPolygonOfFewerThanThreePointsFailsMaskEvaluationAsInPycocotools()
    {
        // frPyObjects takes a first entry of 4 numbers for a box and frBbox rejects the list (TypeError); a shorter
        // first entry is "input type is not supported". In the ground truth and in the results alike.
        var error = Assert.Throws<InvalidDataException>(() => Evaluate(GroundTruth("[[2, 2, 12, 12]]"), Result, DetectionIouType.Segmentation));
        Assert.That(error!.Message, Does.StartWith("gt.json: annotations[0].segmentation[0]: ")
            .And.Contain("annotation 7 (image_id 1)").And.Contain("4 numbers"));

        string shortResult = """[{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.9, "segmentation": [[1, 1]]}]""";
        error = Assert.Throws<InvalidDataException>(() => Evaluate(GroundTruth("[[2, 2, 12, 2, 12, 12, 2, 12]]"), shortResult, DetectionIouType.Segmentation));
        Assert.That(error!.Message, Does.StartWith("dt.json: [0].segmentation[0]: ").And.Contain("2 numbers"));
    }

    [Test]
    public void ShortAndOddPolygonsAreRasterisedAsRleFrPolyWithWarnings()
    {
        // After a valid first polygon, rleFrPoly takes len / 2 points of each: an odd last coordinate is dropped
        // (the 7), and an outline of fewer than 3 points ([0, 0, 1, 1], [5, 5]) covers no pixel. The mask is the
        // square alone (area 100), matched exactly by the result; pycocotools says nothing, the evaluation warns.
        var groundTruth = GroundTruth("[[2, 2, 12, 2, 12, 12, 2, 12, 7], [0, 0, 1, 1], [5, 5]]");
        Assert.That(groundTruth.Annotations[0].Area, Is.EqualTo(100));

        using var warnings = new RecordedWarnings();
        var metrics = Evaluate(groundTruth, Result, DetectionIouType.Segmentation);

        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
        Assert.That(warnings.Messages, Has.Count.EqualTo(2));
        Assert.That(warnings.Messages, Has.Some.StartsWith("gt.json: 2 polygons have fewer than 3 points")
            .And.Contain("annotations[0].segmentation[1]"));
        Assert.That(warnings.Messages, Has.Some.StartsWith("gt.json: 1 polygon has an odd number of coordinates")
            .And.Contain("annotations[0].segmentation[0]"));
    }

    private static CocoDataset GroundTruth(string segmentation) => CocoJson.ReadDataset(Stream($$"""
        {"images": [{"id": 1, "file_name": "1.png", "width": 20, "height": 20}], "categories": [{"id": 1, "name": "square"}],
         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0, "segmentation": {{segmentation}}}]}
        """), "gt.json");

    private static DetectionMetrics Evaluate(CocoDataset groundTruth, string results, DetectionIouType iouType) =>
        new MLContext().EvaluateDetections(CocoJson.ReadResults(Stream(results), "dt.json"), groundTruth,
            new DetectionEvaluationOptions { IouType = iouType });

    private static MemoryStream Stream(string json) => new(Encoding.UTF8.GetBytes(json));
}
