namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>What matching needs to know of one ground-truth annotation.</summary>
/// <remarks><c>Area</c> is the annotation's <c>area</c> field (not its box): it decides the area range.</remarks>
internal readonly record struct GroundTruthRecord(long ImageId, long CategoryId, long Id, double Area, bool IsCrowd);

/// <summary>What matching needs to know of one detection.</summary>
/// <remarks><c>Area</c> is box width × height when the detection has a box, else its mask area (as pycocotools' <c>loadRes</c>).</remarks>
internal readonly record struct DetectionRecord(long ImageId, long CategoryId, double Score, double Area);

/// <summary>LVIS per-image label lists: <c>neg_category_ids</c> and <c>not_exhaustive_category_ids</c>.</summary>
internal sealed class FederatedLabels
{
    public Dictionary<long, HashSet<long>> Negative { get; } = [];

    public Dictionary<long, HashSet<long>> NotExhaustive { get; } = [];

    public void Add(long imageId, IEnumerable<long>? negative, IEnumerable<long>? notExhaustive)
    {
        Negative[imageId] = negative is null ? [] : [.. negative];
        NotExhaustive[imageId] = notExhaustive is null ? [] : [.. notExhaustive];
    }

    public bool IsNegative(long imageId, long categoryId) =>
        Negative.TryGetValue(imageId, out var set) && set.Contains(categoryId);

    public bool IsNotExhaustive(long imageId, long categoryId) =>
        NotExhaustive.TryGetValue(imageId, out var set) && set.Contains(categoryId);
}
