namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>How a detection is compared with the ground truth (pycocotools' <c>iouType</c>).</summary>
public enum DetectionIouType
{
    /// <summary><c>bbox</c>: IoU of the [x, y, w, h] boxes.</summary>
    BoundingBox,

    /// <summary><c>segm</c>: IoU of the instance masks (COCO RLE).</summary>
    Segmentation,
}
