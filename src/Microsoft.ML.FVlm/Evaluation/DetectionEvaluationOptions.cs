namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Options of a COCO / LVIS detection evaluation (<c>mlContext.EvaluateDetections</c>).</summary>
public sealed class DetectionEvaluationOptions
{
    /// <summary>Compare boxes (<c>bbox</c>) or masks (<c>segm</c>). Default: boxes.</summary>
    public DetectionIouType IouType = DetectionIouType.BoundingBox;

    /// <summary>COCO (pycocotools) or LVIS (lvis-api) rules. Default: COCO.</summary>
    public DetectionEvaluationProtocol Protocol = DetectionEvaluationProtocol.Coco;

    /// <summary>
    /// Ground-truth category ids of the novel (held-out) categories of an open-vocabulary split. When set,
    /// the metrics add AP over these categories (<c>APnovel</c>, <c>AP50novel</c>) and over all the others
    /// (<c>APbase</c>, <c>AP50base</c>). Null: no split.
    /// </summary>
    public IReadOnlyCollection<long>? NovelCategoryIds;

    /// <summary>LVIS only: detections kept per image, over all categories, highest scores first. Default 300, as lvis-api.</summary>
    public int LvisMaxDetectionsPerImage = 300;

    /// <summary>Name of the image-id column (integer), joined with the ground truth's <c>images[].id</c>.</summary>
    public string ImageIdColumnName = "ImageId";

    /// <summary>Name of the predicted-label column: variable-length key vector whose key values are category names.</summary>
    public string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>Name of the score column: variable-length float vector, one score per detection.</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Name of the box column: variable-length float vector, 4 per detection, x0 y0 x1 y1 in pixels.</summary>
    public string PredictedBoundingBoxesColumnName = "PredictedBoundingBoxes";

    /// <summary>
    /// Name of the mask column: variable-length text vector, one compressed COCO RLE string per detection, of the
    /// image's size. Read only for <see cref="DetectionIouType.Segmentation"/> and for results files.
    /// </summary>
    public string PredictedMasksColumnName = "PredictedMasks";
}
