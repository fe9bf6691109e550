using System.Diagnostics;
using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Checks a ground truth and its results before anything is grouped or rasterised, with pycocotools' verdict on
/// each problem: an <see cref="InvalidDataException"/> where pycocotools fails, a warning
/// (<see cref="Trace.TraceWarning(string)"/>) where it silently leaves something out. Messages name the file each
/// came from (<see cref="CocoSources"/>), the entry, its ids, the field and what was expected.
/// </summary>
internal static class CocoInputCheck
{
    private const int IdsNamed = 5;

    public static void Check(CocoDataset groundTruth, IReadOnlyList<CocoAnnotation> detections, DetectionEvaluationOptions options)
    {
        string groundTruthName = CocoSources.NameOf(groundTruth, "the ground truth");
        string detectionsName = CocoSources.NameOf(detections, "detections");
        bool segm = options.IouType == DetectionIouType.Segmentation;
        bool lvis = options.Protocol == DetectionEvaluationProtocol.Lvis;
        var imageSizes = new Dictionary<long, (int Height, int Width)>(groundTruth.Images.Count);
        foreach (var image in groundTruth.Images)
            imageSizes[image.Id] = (image.Height, image.Width);
        var categories = groundTruth.Categories.Select(category => category.Id).ToHashSet();

        var groundTruthPolygons = new PolygonTally(groundTruthName);
        for (int i = 0; segm && i < groundTruth.Annotations.Count; i++)
        {
            var a = groundTruth.Annotations[i];
            if (!imageSizes.TryGetValue(a.ImageId, out var size) || !categories.Contains(a.CategoryId) || (lvis && !HasLvisArea(a.Area)))
                continue;
            string owner = $"annotation {a.Id} (image_id {a.ImageId})";
            if (a.Segmentation is null)
                throw new InvalidDataException($"{groundTruthName}: annotations[{i}].segmentation: missing; segm evaluation needs the mask of {owner}.");
            CheckMask(a.Segmentation, size, groundTruthName, $"annotations[{i}].segmentation", owner, groundTruthPolygons);
        }

        var detectionPolygons = new PolygonTally(detectionsName);
        var unknownCategories = new SortedSet<long>();
        int unknownCategoryCount = 0;
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            // pycocotools' loadRes and lvis-api's LVISResults assert that the results' image ids are the ground truth's.
            if (!imageSizes.TryGetValue(d.ImageId, out var size))
                throw new InvalidDataException(
                    $"{detectionsName}: [{i}].image_id: {d.ImageId} is not the id of an image in {groundTruthName}; every result must be on one of its images.");
            // Neither checks category ids: COCOeval._prepare and LVISEval._prepare select results by the ground
            // truth's categories (getAnnIds / get_ann_ids with catIds), so the others drop out without a word.
            if (!categories.Contains(d.CategoryId))
            {
                unknownCategoryCount++;
                unknownCategories.Add(d.CategoryId);
                continue;
            }
            bool evaluated = !lvis || !CocoEvaluationInput.HasBox(d) || HasLvisArea(d.Bbox[2] * d.Bbox[3]);
            if (segm && evaluated && d.Segmentation is not null)
                CheckMask(d.Segmentation, size, detectionsName, $"[{i}].segmentation",
                    $"result {i} (image_id {d.ImageId}, category_id {d.CategoryId})", detectionPolygons);
        }
        if (unknownCategoryCount > 0)
        {
            string ids = string.Join(", ", unknownCategories.Take(IdsNamed)) + (unknownCategories.Count > IdsNamed ? ", ..." : "");
            Trace.TraceWarning(
                $"{detectionsName}: {unknownCategoryCount} of {detections.Count} results {(unknownCategoryCount == 1 ? "has" : "have")} a category_id that is not a category of "
                + $"{groundTruthName} ({ids}); they are left out of the evaluation, as pycocotools and lvis-api leave them out.");
        }
        groundTruthPolygons.Warn();
        detectionPolygons.Warn();
    }

    /// <summary>lvis-api makes masks only of what <c>get_ann_ids</c> selects: 0 &lt; area &lt; inf (see <see cref="EvaluationSetBuilder"/>).</summary>
    private static bool HasLvisArea(double area) => area > 0 && area < double.PositiveInfinity;

    private static void CheckMask(CocoSegmentation segmentation, (int Height, int Width) image, string source, string field, string owner, PolygonTally tally)
    {
        if (segmentation.Rle is RleMask rle)
        {
            if (rle.Height != image.Height || rle.Width != image.Width)
                throw new InvalidDataException(
                    $"{source}: {field}.size: [{rle.Height}, {rle.Width}] differs from the image's height and width [{image.Height}, {image.Width}], in the mask of {owner}.");
            return;
        }
        // pycocotools' annToRLE hands a polygon list to frPyObjects, which decides by the first entry: [] raises
        // IndexError; a first entry of 4 numbers is taken for a box and frBbox rejects the list (TypeError); fewer
        // than 4 is "input type is not supported". From 5 numbers on, every entry goes to rleFrPoly with
        // int(len / 2) points: an odd last coordinate is dropped, and an outline of fewer than 3 points covers no
        // pixel. CocoMask.FromPolygon rasterises those exactly so; they are only counted here.
        var polygons = segmentation.Polygons!;
        if (polygons.Count == 0)
            throw new InvalidDataException(
                $"{source}: {field}: [] has no polygon, and segm evaluation needs the mask of {owner}: expected polygons "
                + "[[x1, y1, x2, y2, x3, y3, ...], ...] of at least 3 points, or an RLE (pycocotools fails on [] too).");
        if (polygons[0].Length <= 4)
            throw new InvalidDataException(
                $"{source}: {field}[0]: expected a polygon of at least 3 points (6 numbers), got {polygons[0].Length} numbers, in the mask of {owner} "
                + "(pycocotools fails on a first polygon of fewer than 5 numbers too; it takes 4 for a box).");
        for (int j = 0; j < polygons.Count; j++)
            tally.Add(polygons[j], $"{field}[{j}]", owner);
    }

    /// <summary>Counts the polygons that pycocotools trims without a word, and warns once per kind.</summary>
    private sealed class PolygonTally(string source)
    {
        private int _short, _odd;
        private string? _firstShort, _firstOdd;

        public void Add(double[] polygon, string field, string owner)
        {
            if (polygon.Length / 2 < 3 && _short++ == 0)
                _firstShort = $"{field}, in the mask of {owner}";
            if (polygon.Length % 2 == 1 && _odd++ == 0)
                _firstOdd = $"{field}, in the mask of {owner}";
        }

        public void Warn()
        {
            if (_short > 0)
                Trace.TraceWarning(
                    $"{source}: {Polygons(_short)} fewer than 3 points and cover no pixel, as pycocotools' rleFrPoly "
                    + $"rasterises them without a word (first: {_firstShort}).");
            if (_odd > 0)
                Trace.TraceWarning(
                    $"{source}: {Polygons(_odd)} an odd number of coordinates; the last one is ignored, as pycocotools' "
                    + $"rleFrPoly ignores it without a word (first: {_firstOdd}).");
        }

        private static string Polygons(int count) => count == 1 ? "1 polygon has" : $"{count} polygons have";
    }
}
