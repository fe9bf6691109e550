using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>A small hand-built evaluation input: images, categories, boxes or masks, run through the real pipeline.</summary>
internal sealed class EvaluationScenario
{
    private readonly List<long> _images = [];
    private readonly List<long> _categories = [];
    private readonly List<GroundTruthRecord> _gt = [];
    private readonly List<double[]> _gtBoxes = [];
    private readonly List<RleMask> _gtMasks = [];
    private readonly List<DetectionRecord> _dt = [];
    private readonly List<double[]> _dtBoxes = [];
    private readonly List<RleMask> _dtMasks = [];
    private readonly FederatedLabels _federated = new();
    private readonly Dictionary<long, string?> _frequencies = [];

    public EvaluationScenario Images(params long[] ids)
    {
        _images.AddRange(ids);
        return this;
    }

    public EvaluationScenario Categories(params long[] ids)
    {
        _categories.AddRange(ids);
        return this;
    }

    public EvaluationScenario Category(long id, string frequency)
    {
        _categories.Add(id);
        _frequencies[id] = frequency;
        return this;
    }

    public EvaluationScenario Image(long id, long[]? negative = null, long[]? notExhaustive = null)
    {
        _images.Add(id);
        _federated.Add(id, negative, notExhaustive);
        return this;
    }

    /// <summary>A ground-truth box [x, y, w, h]; its area is w × h unless given.</summary>
    public EvaluationScenario Truth(long image, long category, double[] box, bool crowd = false, double? area = null, long? id = null)
    {
        _gt.Add(new GroundTruthRecord(image, category, id ?? _gt.Count + 1, area ?? box[2] * box[3], crowd));
        _gtBoxes.Add(box);
        return this;
    }

    public EvaluationScenario Detection(long image, long category, double[] box, double score)
    {
        _dt.Add(new DetectionRecord(image, category, score, box[2] * box[3]));
        _dtBoxes.Add(box);
        return this;
    }

    /// <summary>A ground-truth mask (area = mask area).</summary>
    public EvaluationScenario TruthMask(long image, long category, RleMask mask)
    {
        _gt.Add(new GroundTruthRecord(image, category, _gt.Count + 1, CocoMask.Area(mask), false));
        _gtMasks.Add(mask);
        _gtBoxes.Add(CocoMask.ToBox(mask));
        return this;
    }

    /// <summary>A detection given by its mask only (area = mask area, as loadRes for segmentation results).</summary>
    public EvaluationScenario DetectionMask(long image, long category, RleMask mask, double score)
    {
        _dt.Add(new DetectionRecord(image, category, score, CocoMask.Area(mask)));
        _dtMasks.Add(mask);
        _dtBoxes.Add(CocoMask.ToBox(mask));
        return this;
    }

    public DetectionMetrics Coco(DetectionIouType iouType = DetectionIouType.BoundingBox, long[]? novel = null) =>
        Run(EvaluationParameters.Coco(), iouType, novel);

    public DetectionMetrics Lvis(int maxDetectionsPerImage = 300, long[]? novel = null) =>
        Run(EvaluationParameters.Lvis(maxDetectionsPerImage), DetectionIouType.BoundingBox, novel);

    private DetectionMetrics Run(EvaluationParameters parameters, DetectionIouType iouType, long[]? novel)
    {
        var input = new DetectionEvaluator.Input
        {
            ImageIds = _images,
            CategoryIds = _categories,
            GroundTruth = [.. _gt],
            Detections = [.. _dt],
            Federated = _federated,
            Frequencies = _frequencies,
            CreateOverlap = set => iouType == DetectionIouType.BoundingBox
                ? DetectionEvaluator.BoxOverlapFor(set, _gtBoxes, _dtBoxes)
                : DetectionEvaluator.MaskOverlapFor(set, _gtMasks, _dtMasks),
        };
        return DetectionEvaluator.Evaluate(parameters, iouType, input, novel);
    }

    /// <summary>A mask of the given size whose on-pixels are where <paramref name="on"/>(row, column) holds.</summary>
    public static RleMask Mask(int height, int width, Func<int, int, bool> on)
    {
        var pixels = new byte[height * width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
                pixels[y * width + x] = on(y, x) ? (byte)1 : (byte)0;
        }
        return CocoMask.Encode(pixels, height, width);
    }
}
