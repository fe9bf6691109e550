namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Which reference evaluator's rules to follow.</summary>
public enum DetectionEvaluationProtocol
{
    /// <summary>pycocotools' <c>COCOeval</c>: maxDets 1 / 10 / 100 per image and category, crowd regions.</summary>
    Coco,

    /// <summary>
    /// lvis-api's <c>LVISEval</c>: 300 detections per image, federated rules (<c>neg_category_ids</c>,
    /// <c>not_exhaustive_category_ids</c>), AP by category frequency (APr / APc / APf).
    /// </summary>
    Lvis,
}
