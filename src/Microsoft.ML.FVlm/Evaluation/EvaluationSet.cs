namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Ground truth and detections grouped by (image, category), ready for matching. Built by
/// <see cref="EvaluationSetBuilder"/>; every array is indexed by a position in the grouped order.
/// </summary>
/// <remarks>
/// Pairs are ordered by image index (images sorted by id), then category index (sorted by id). Within a
/// pair, ground truth keeps its order in the input and detections are sorted by descending score, ties in
/// input order (what NumPy's stable <c>argsort(-score, kind='mergesort')</c> gives).
/// </remarks>
internal sealed class EvaluationSet
{
    public required long[] ImageIds { get; init; }

    public required long[] CategoryIds { get; init; }

    public required int[] PairImage { get; init; }

    public required int[] PairCategory { get; init; }

    public required int[] PairGroundTruthStart { get; init; }

    public required int[] PairGroundTruthCount { get; init; }

    public required int[] PairDetectionStart { get; init; }

    public required int[] PairDetectionCount { get; init; }

    /// <summary>LVIS: the pair's category is in the image's <c>not_exhaustive_category_ids</c>.</summary>
    public required bool[] PairNotExhaustive { get; init; }

    /// <summary>Pairs of each category, in image order: <c>[category][k]</c> is a pair index.</summary>
    public required int[][] CategoryPairs { get; init; }

    /// <summary>Position in the caller's ground-truth list of each grouped ground truth.</summary>
    public required int[] GroundTruthSource { get; init; }

    public required long[] GroundTruthId { get; init; }

    public required double[] GroundTruthArea { get; init; }

    /// <summary>Crowd regions: IoU is intersection over detection area, and they may match many detections.</summary>
    public required bool[] GroundTruthCrowd { get; init; }

    /// <summary>Ignored whatever the area range (COCO: crowd regions).</summary>
    public required bool[] GroundTruthIgnore { get; init; }

    /// <summary>Position in the caller's detection list of each grouped detection.</summary>
    public required int[] DetectionSource { get; init; }

    public required double[] DetectionScore { get; init; }

    public required double[] DetectionArea { get; init; }

    public int PairCount => PairImage.Length;

    public int ImageCount => ImageIds.Length;

    public int CategoryCount => CategoryIds.Length;

    public int GroundTruthCount => GroundTruthId.Length;

    public int DetectionCount => DetectionScore.Length;
}
