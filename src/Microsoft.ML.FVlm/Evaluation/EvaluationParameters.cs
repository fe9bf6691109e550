namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// The fixed settings of a COCO or LVIS evaluation: IoU thresholds, recall points, area ranges and
/// detection limits. The threshold values are built the way NumPy's <c>linspace</c> builds them, so
/// that comparisons such as <c>iou &lt; 0.7</c> see the same doubles as pycocotools and lvis-api.
/// </summary>
internal sealed class EvaluationParameters
{
    /// <summary>Names of the area ranges, in the order of <see cref="AreaRanges"/>.</summary>
    public static readonly string[] AreaRangeNames = ["all", "small", "medium", "large"];

    private EvaluationParameters(bool isLvis, int[] maxDetections, int lvisMaxDetectionsPerImage)
    {
        IsLvis = isLvis;
        MaxDetections = maxDetections;
        LvisMaxDetectionsPerImage = lvisMaxDetectionsPerImage;
    }

    /// <summary>True for lvis-api's federated rules, false for pycocotools' rules.</summary>
    public bool IsLvis { get; }

    /// <summary>IoU thresholds 0.50:0.05:0.95 (10 values).</summary>
    public double[] IouThresholds { get; } = Linspace(0.5, 0.95, 10);

    /// <summary>Recall points 0:0.01:1 (101 values).</summary>
    public double[] RecallThresholds { get; } = Linspace(0.0, 1.0, 101);

    /// <summary>Area ranges [low, high] in pixels², both ends inclusive: all, small, medium, large.</summary>
    public (double Low, double High)[] AreaRanges { get; } =
        [(0, 1e5 * 1e5), (0, 32 * 32), (32 * 32, 96 * 96), (96 * 96, 1e5 * 1e5)];

    /// <summary>
    /// Detection limits of the accumulation, ascending. COCO: 1, 10, 100 per image and category.
    /// LVIS: a single entry that does not truncate (its limit is applied per image before matching).
    /// </summary>
    public int[] MaxDetections { get; }

    /// <summary>The largest per-(image, category) limit; detections beyond it are never matched.</summary>
    public int MaxDetectionsPerImageCategory => MaxDetections[^1];

    /// <summary>LVIS: detections kept per image over all categories, by score (300).</summary>
    public int LvisMaxDetectionsPerImage { get; }

    public int IouThresholdCount => IouThresholds.Length;

    public int AreaRangeCount => AreaRanges.Length;

    public static EvaluationParameters Coco() => new(false, [1, 10, 100], -1);

    public static EvaluationParameters Lvis(int maxDetectionsPerImage) => new(true, [int.MaxValue], maxDetectionsPerImage);

    /// <summary>Index of an IoU threshold compared by exact equality, as the summaries do; -1 if absent.</summary>
    public int IndexOfIouThreshold(double threshold) => Array.IndexOf(IouThresholds, threshold);

    /// <summary>NumPy's <c>linspace(start, stop, num)</c>: <c>i * step + start</c> with the last value set to <c>stop</c>.</summary>
    internal static double[] Linspace(double start, double stop, int count)
    {
        var values = new double[count];
        double step = (stop - start) / (count - 1);
        for (int i = 0; i < count; i++)
            values[i] = i * step + start;
        values[^1] = stop;
        return values;
    }
}
