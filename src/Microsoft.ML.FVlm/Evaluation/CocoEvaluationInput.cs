using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Turns a COCO / LVIS ground truth and a list of COCO results into the evaluator's records, deriving
/// detection fields as pycocotools' <c>loadRes</c> and lvis-api's <c>LVISResults</c> do.
/// </summary>
/// <remarks>
/// A detection with a box has area w × h (even when judged by its mask), and without a segmentation its
/// mask is the box's polygon; a detection with only a segmentation has the mask's area and box. (The
/// reference tools decide this once, from the first result; here it is decided per detection, which gives
/// the same numbers for every file whose results are all alike.) A results entry whose <c>bbox</c> is
/// [0, 0, 0, 0] and that has a segmentation counts as having no box, since the reader cannot tell the two apart.
/// </remarks>
internal static class CocoEvaluationInput
{
    public static DetectionEvaluator.Input Create(CocoDataset groundTruth, IReadOnlyList<CocoAnnotation> detections, DetectionEvaluationOptions options)
    {
        CocoInputCheck.Check(groundTruth, detections, options);
        bool lvis = options.Protocol == DetectionEvaluationProtocol.Lvis;
        bool segm = options.IouType == DetectionIouType.Segmentation;
        var imageSizes = new Dictionary<long, (int Height, int Width)>(groundTruth.Images.Count);
        var federated = lvis ? new FederatedLabels() : null;
        foreach (var image in groundTruth.Images)
        {
            imageSizes[image.Id] = (image.Height, image.Width);
            federated?.Add(image.Id, image.NegCategoryIds, image.NotExhaustiveCategoryIds);
        }

        var gtRecords = new GroundTruthRecord[groundTruth.Annotations.Count];
        for (int i = 0; i < gtRecords.Length; i++)
        {
            var a = groundTruth.Annotations[i];
            gtRecords[i] = new GroundTruthRecord(a.ImageId, a.CategoryId, a.Id, a.Area, a.IsCrowd != 0);
        }

        var dtRecords = new DetectionRecord[detections.Count];
        for (int i = 0; i < dtRecords.Length; i++)
        {
            var d = detections[i];
            if (d.Score is not double score)
                throw new InvalidDataException($"Detection {i} (image_id {d.ImageId}) has no score.");
            double area;
            if (HasBox(d))
                area = d.Bbox[2] * d.Bbox[3];
            else if (d.Segmentation is not null && imageSizes.TryGetValue(d.ImageId, out var size))
                area = CocoMask.Area(ToRle(d.Segmentation, size.Height, size.Width, $"detection {i}"));
            else
                area = 0; // an unknown image: the set builder reports it
            dtRecords[i] = new DetectionRecord(d.ImageId, d.CategoryId, score, area);
        }

        var frequencies = new Dictionary<long, string?>(groundTruth.Categories.Count);
        foreach (var category in groundTruth.Categories)
            frequencies[category.Id] = category.Frequency;

        return new DetectionEvaluator.Input
        {
            ImageIds = [.. groundTruth.Images.Select(image => image.Id)],
            CategoryIds = [.. groundTruth.Categories.Select(category => category.Id)],
            GroundTruth = gtRecords,
            Detections = dtRecords,
            Federated = federated,
            Frequencies = frequencies,
            CreateOverlap = set => segm
                ? MaskOverlapFor(set, groundTruth.Annotations, detections, imageSizes)
                : BoxOverlapFor(set, groundTruth.Annotations, detections, imageSizes),
        };
    }

    /// <summary>Whether a result carries a box (see the remarks on all-zero boxes).</summary>
    internal static bool HasBox(CocoAnnotation detection) =>
        detection.Bbox is { Length: 4 } box && !(detection.Segmentation is not null && box[0] == 0 && box[1] == 0 && box[2] == 0 && box[3] == 0);

    private static BoxOverlap BoxOverlapFor(EvaluationSet set, List<CocoAnnotation> groundTruth, IReadOnlyList<CocoAnnotation> detections,
        Dictionary<long, (int Height, int Width)> imageSizes)
    {
        var gt = new double[set.GroundTruthCount * 4];
        for (int i = 0; i < set.GroundTruthCount; i++)
            groundTruth[set.GroundTruthSource[i]].Bbox.AsSpan(0, 4).CopyTo(gt.AsSpan(i * 4));
        var dt = new double[set.DetectionCount * 4];
        Parallel.For(0, set.DetectionCount, i =>
        {
            int source = set.DetectionSource[i];
            var d = detections[source];
            double[] box = d.Bbox;
            if (!HasBox(d))
            {
                var (height, width) = SizeOf(d, imageSizes);
                box = CocoMask.ToBox(ToRle(d.Segmentation!, height, width, $"detection {source}"));
            }
            box.AsSpan(0, 4).CopyTo(dt.AsSpan(i * 4));
        });
        return new BoxOverlap(dt, gt);
    }

    private static MaskOverlap MaskOverlapFor(EvaluationSet set, List<CocoAnnotation> groundTruth, IReadOnlyList<CocoAnnotation> detections,
        Dictionary<long, (int Height, int Width)> imageSizes)
    {
        // Polygons are rasterised only for the annotations that take part, in parallel.
        var gt = new RleMask[set.GroundTruthCount];
        Parallel.For(0, gt.Length, i =>
        {
            var a = groundTruth[set.GroundTruthSource[i]];
            var (height, width) = SizeOf(a, imageSizes);
            gt[i] = a.Segmentation is not null
                ? ToRle(a.Segmentation, height, width, $"ground-truth annotation {a.Id}")
                : throw new InvalidDataException($"Ground-truth annotation {a.Id} (image_id {a.ImageId}) has no segmentation; segm evaluation needs one for every annotation.");
        });
        var dt = new RleMask[set.DetectionCount];
        Parallel.For(0, dt.Length, i =>
        {
            int source = set.DetectionSource[i];
            var d = detections[source];
            var (height, width) = SizeOf(d, imageSizes);
            dt[i] = d.Segmentation is not null
                ? ToRle(d.Segmentation, height, width, $"detection {source}")
                : CocoMask.FromPolygons([BoxPolygon(d.Bbox)], height, width);
        });
        return new MaskOverlap(dt, gt);
    }

    private static RleMask ToRle(CocoSegmentation segmentation, int height, int width, string what)
    {
        try
        {
            return segmentation.ToRle(height, width);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The segmentation of {what}: {e.Message}", e);
        }
    }

    /// <summary>The box's outline as loadRes makes it: [x1, y1, x1, y2, x2, y2, x2, y1].</summary>
    private static double[] BoxPolygon(double[] box)
    {
        double x1 = box[0], y1 = box[1], x2 = box[0] + box[2], y2 = box[1] + box[3];
        return [x1, y1, x1, y2, x2, y2, x2, y1];
    }

    private static (int Height, int Width) SizeOf(CocoAnnotation annotation, Dictionary<long, (int Height, int Width)> imageSizes) =>
        imageSizes.TryGetValue(annotation.ImageId, out var size)
            ? size
            : throw new InvalidDataException($"Image {annotation.ImageId} is not in the ground truth.");
}
