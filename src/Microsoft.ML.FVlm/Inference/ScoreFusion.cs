using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// F-VLM's open-vocabulary ensemble (<c>ensemble_class_outputs</c> of google-research's
/// <c>fvlm/modeling/task_heads.py</c>): per class, the geometric mean of the detector's and the frozen
/// VLM's probabilities, weighted by alpha for base classes and beta for novel ones,
/// <c>p = p_det^(1 - w) * p_vlm^w</c>; the background probability is the detector's; then each row is
/// divided by its sum, so that a box's fused probabilities sum to 1.
/// </summary>
internal static class ScoreFusion
{
    /// <summary>F-VLM's weight of the VLM score for base classes.</summary>
    public const double DefaultBaseVlmWeight = 0.35;

    /// <summary>F-VLM's weight of the VLM score for novel classes (and every class of a vocabulary with no split).</summary>
    public const double DefaultNovelVlmWeight = 0.65;

    /// <summary>Fuses detector and VLM class probabilities.</summary>
    /// <param name="detection">[R, 1 + C]: softmax over [background; classes] from the detector head.</param>
    /// <param name="vlm">[R, C]: softmax over the classes from the VLM's region embeddings.</param>
    /// <param name="isNovel">[C]: true for a class whose annotations were never seen in training.</param>
    /// <param name="baseVlmWeight">alpha.</param>
    /// <param name="novelVlmWeight">beta.</param>
    /// <param name="renormalise">Divide each row by its sum, as the reference does (false: stop before, as this library did before format 0x00010006).</param>
    /// <returns>[R, 1 + C]: background from the detector, fused class scores.</returns>
    public static Tensor Fuse(Tensor detection, Tensor vlm, IReadOnlyList<bool> isNovel, double baseVlmWeight, double novelVlmWeight, bool renormalise)
    {
        if (detection.dim() != 2 || vlm.dim() != 2 || detection.shape[0] != vlm.shape[0] || detection.shape[1] != vlm.shape[1] + 1 || isNovel.Count != vlm.shape[1])
            throw new ArgumentException($"Expected detection [R, 1 + C], vlm [R, C] and C novel flags; got [{string.Join(", ", detection.shape)}], [{string.Join(", ", vlm.shape)}], {isNovel.Count}.");
        using var scope = NewDisposeScope();
        var weights = tensor(isNovel.Select(n => (float)(n ? novelVlmWeight : baseVlmWeight)).ToArray(), device: vlm.device).to(vlm.dtype);
        var classes = detection[.., 1..].pow(1 - weights) * vlm.pow(weights);
        var fused = cat([detection[.., ..1], classes], 1);
        if (renormalise) fused = fused / fused.sum(1, keepdim: true);
        return fused.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds what <see cref="Fuse"/> computes to <paramref name="graph"/>, with the VLM's weight of each class as a value
    /// [C] (alpha for base classes, beta for novel ones) rather than novel flags: the fused probabilities [R, 1 + C].
    /// </summary>
    public static string ExportFuse(OnnxGraphBuilder graph, string name, string detection, string vlm, string vlmWeights, bool renormalise)
    {
        string background = graph.Node("Slice", $"{name}.background", [detection, graph.Int64s($"{name}.zero", 0), graph.Int64s($"{name}.one", 1), graph.Int64s($"{name}.axis", 1)]);
        string detectionClasses = graph.Node("Slice", $"{name}.classes", [detection, graph.Int64s($"{name}.from", 1), graph.Int64s($"{name}.to", long.MaxValue), graph.Int64s($"{name}.class_axis", 1)]);
        string detectionWeights = graph.Node("Sub", $"{name}.detection_weights", [graph.Weight($"{name}.unit", [1f]), vlmWeights]);
        string classes = graph.Node("Mul", $"{name}.geometric", [graph.Node("Pow", $"{name}.detection", [detectionClasses, detectionWeights]), graph.Node("Pow", $"{name}.vlm", [vlm, vlmWeights])]);
        string fused = graph.Node("Concat", $"{name}.fused", [background, classes], ("axis", 1L));
        return !renormalise ? fused
            : graph.Node("Div", name, [fused, graph.Node("ReduceSum", $"{name}.sum", [fused, graph.Int64s($"{name}.sum_axis", 1)], ("keepdims", 1L))]);
    }

    /// <summary>F-VLM's optional objectness weight: every probability of a box times its proposal's objectness to the power <paramref name="weight"/>.</summary>
    /// <param name="probabilities">[R, K].</param>
    /// <param name="objectness">[R]: the RPN's objectness probability of each box's proposal.</param>
    /// <param name="weight">The power; 0 leaves <paramref name="probabilities"/> as they are.</param>
    public static Tensor WeighByObjectness(Tensor probabilities, Tensor objectness, double weight)
    {
        if (objectness.dim() != 1 || objectness.shape[0] != probabilities.shape[0])
            throw new ArgumentException($"Expected one objectness per row of [{string.Join(", ", probabilities.shape)}]; got [{string.Join(", ", objectness.shape)}].");
        return probabilities * objectness.to(probabilities.dtype).pow(weight).unsqueeze(1);
    }
}
