namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// One entry of a COCO / LVIS <c>"annotations"</c> list, or one detection of a COCO results file
/// (then <see cref="Score"/> is set and <see cref="Id"/>, <see cref="Area"/>, <see cref="IsCrowd"/> may be 0).
/// </summary>
public sealed class CocoAnnotation
{
    /// <summary><c>"id"</c>.</summary>
    public long Id { get; set; }

    /// <summary><c>"image_id"</c>.</summary>
    public long ImageId { get; set; }

    /// <summary><c>"category_id"</c>.</summary>
    public long CategoryId { get; set; }

    /// <summary><c>"bbox"</c>: <c>[x, y, w, h]</c>, pixels, (x, y) the top-left corner.</summary>
    public double[] Bbox { get; set; } = [0, 0, 0, 0];

    /// <summary><c>"area"</c> in pixels (of the mask when there is one). When a dataset omits it the
    /// reader computes it from the segmentation, or from the box without one.</summary>
    public double Area { get; set; }

    /// <summary><c>"iscrowd"</c>: 1 for a crowd region (LVIS has none; absent reads as 0).</summary>
    public int IsCrowd { get; set; }

    /// <summary><c>"segmentation"</c>, optional.</summary>
    public CocoSegmentation? Segmentation { get; set; }

    /// <summary><c>"score"</c> of a detection in a results file; null in a dataset.</summary>
    public double? Score { get; set; }
}
