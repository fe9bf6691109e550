using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// COCO and LVIS evaluation of object detection and instance segmentation: the numbers pycocotools'
/// <c>COCOeval</c> and lvis-api's <c>LVISEval</c> report for the same input.
/// </summary>
public static class DetectionEvaluationCatalog
{
    /// <summary>
    /// Evaluates the output of a detector against COCO ground truth with pycocotools' rules.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="predictions">
    /// One row per image with the detector's output columns: <c>ImageId</c> (integer, the ground truth's
    /// <c>images[].id</c>), <c>PredictedLabel</c> (variable-length key vector whose key values are category
    /// names, matched to the ground truth's <c>categories[].name</c>), <c>Score</c> (variable-length Single
    /// vector), <c>PredictedBoundingBoxes</c> (variable-length Single vector, 4 per detection, x0 y0 x1 y1 in
    /// pixels) and, for masks, <c>PredictedMasks</c> (variable-length text vector of COCO compressed RLE).
    /// </param>
    /// <param name="groundTruth">The ground truth (<see cref="CocoJson.ReadDataset(string)"/>).</param>
    /// <param name="iouType">Judge boxes (<c>bbox</c>) or masks (<c>segm</c>).</param>
    /// <returns>AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl and AP per category.</returns>
    public static DetectionMetrics EvaluateDetections(this MLContext mlContext, IDataView predictions, CocoDataset groundTruth,
        DetectionIouType iouType = DetectionIouType.BoundingBox) =>
        mlContext.EvaluateDetections(predictions, groundTruth, new DetectionEvaluationOptions { IouType = iouType });

    /// <summary>
    /// Evaluates the output of a detector against COCO or LVIS ground truth, optionally with an open-vocabulary
    /// split into novel and base categories.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="predictions">One row per image with the detector's output columns, named in <paramref name="options"/>.</param>
    /// <param name="groundTruth">The ground truth; for LVIS it must carry <c>neg_category_ids</c>,
    /// <c>not_exhaustive_category_ids</c> and each category's <c>frequency</c>.</param>
    /// <param name="options">IoU type, protocol, novel categories and column names.</param>
    public static DetectionMetrics EvaluateDetections(this MLContext mlContext, IDataView predictions, CocoDataset groundTruth,
        DetectionEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        var results = PredictionColumnsReader.Read(predictions, groundTruth, options, options.IouType == DetectionIouType.Segmentation);
        return mlContext.EvaluateDetections(results, groundTruth, options);
    }

    /// <summary>
    /// Evaluates detections given as COCO results (<see cref="CocoJson.ReadResults(string)"/>: image_id,
    /// category_id, bbox [x, y, w, h], score, optional segmentation) against COCO or LVIS ground truth.
    /// Results whose <c>category_id</c> is not a ground-truth category are left out, as pycocotools and lvis-api
    /// leave them out, with a warning (<see cref="System.Diagnostics.Trace.TraceWarning(string)"/>) that counts them.
    /// For masks, polygons are rasterised as pycocotools' <c>annToRLE</c> does, with a warning for those it trims
    /// without a word (fewer than 3 points, an odd number of coordinates).
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="detections">The results, in file order (ties in score are broken by this order, as in the reference tools).</param>
    /// <param name="groundTruth">The ground truth.</param>
    /// <param name="options">IoU type, protocol and novel categories; null for COCO box evaluation.</param>
    /// <exception cref="InvalidDataException">A detection names an image that is not in the ground truth, has no score,
    /// or a mask whose size differs from its image; for masks, an annotation or result has no mask pycocotools could
    /// make either (no segmentation, <c>[]</c>, a first polygon of fewer than 5 numbers); or LVIS ground truth lacks a
    /// category frequency. The message names the file, the entry and its ids, and the field.</exception>
    public static DetectionMetrics EvaluateDetections(this MLContext mlContext, IReadOnlyList<CocoAnnotation> detections, CocoDataset groundTruth,
        DetectionEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(groundTruth);
        options ??= new DetectionEvaluationOptions();
        if (options.LvisMaxDetectionsPerImage <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.LvisMaxDetectionsPerImage,
                $"{nameof(options.LvisMaxDetectionsPerImage)} must be positive.");
        var parameters = options.Protocol == DetectionEvaluationProtocol.Lvis
            ? EvaluationParameters.Lvis(options.LvisMaxDetectionsPerImage)
            : EvaluationParameters.Coco();
        var input = CocoEvaluationInput.Create(groundTruth, detections, options);
        return DetectionEvaluator.Evaluate(parameters, options.IouType, input, options.NovelCategoryIds);
    }

    /// <summary>
    /// Converts the output of a detector to COCO results, ready for <see cref="CocoJson.WriteResults(IEnumerable{CocoAnnotation}, string)"/>
    /// so that any COCO tool can score them. Boxes become [x, y, w, h]; masks (when the mask column exists) become
    /// compressed-RLE segmentations; labels are mapped to ground-truth category ids by name, and labels the ground
    /// truth does not name are left out.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="predictions">One row per image with the detector's output columns (see <see cref="EvaluateDetections(MLContext, IDataView, CocoDataset, DetectionIouType)"/>).</param>
    /// <param name="groundTruth">Gives category ids by name, and image sizes for the masks.</param>
    /// <param name="options">Column names; null for the defaults.</param>
    public static List<CocoAnnotation> ToCocoResults(this MLContext mlContext, IDataView predictions, CocoDataset groundTruth,
        DetectionEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return PredictionColumnsReader.Read(predictions, groundTruth, options ?? new DetectionEvaluationOptions(), requireMasks: false);
    }
}
