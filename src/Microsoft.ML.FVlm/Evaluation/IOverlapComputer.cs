namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Computes the IoU matrix of one (image, category) pair of an <see cref="EvaluationSet"/>.</summary>
internal interface IOverlapComputer
{
    /// <summary>
    /// Writes IoU [D, G] row-major (detection-major) for the pair's detections (score order) and ground
    /// truth (input order). For crowd ground truth the IoU is intersection over the detection's area.
    /// Must be safe to call from several threads at once for different pairs.
    /// </summary>
    void Compute(EvaluationSet set, int pair, Span<double> iou);
}
