using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The detector's losses, as F-VLM trains them (all weight 1): the RPN's sigmoid cross-entropy
/// and Huber box loss (delta 1/9), Fast R-CNN's softmax cross-entropy with background weight 0.9
/// and Huber box loss (delta 1), and the mask head's per-pixel sigmoid cross-entropy. Box losses
/// are the mean Huber loss over the positives' coordinates, as the TensorFlow Mask R-CNN that F-VLM
/// builds on. (torchvision divides the sum over positives by all sampled predictions, with smooth L1;
/// Huber with delta 1/9 is smooth L1 divided by 9, so that normalisation, used here before, weighed
/// the RPN's box loss tens of times less than F-VLM does when a few of 256 anchors are positive.)
/// </summary>
internal static class DetectionLosses
{
    /// <summary>Huber delta of the RPN box loss.</summary>
    public const double RpnHuberDelta = 1.0 / 9;

    /// <summary>Huber delta of the box head's loss.</summary>
    public const double BoxHuberDelta = 1.0;

    /// <summary>Weight of the background class in the box head's cross-entropy.</summary>
    public const double BackgroundWeight = 0.9;

    /// <summary>RPN objectness and box losses over sampled anchors.</summary>
    /// <param name="objectness">[S] logits of the sampled anchors.</param>
    /// <param name="labels">[S] 1 for positives, 0 for negatives.</param>
    /// <param name="deltas">[P, 4] predicted deltas of the positives.</param>
    /// <param name="targetDeltas">[P, 4] encoded ground truth of the positives.</param>
    public static (Tensor Objectness, Tensor Box) Rpn(Tensor objectness, Tensor labels, Tensor deltas, Tensor targetDeltas)
    {
        var classification = functional.binary_cross_entropy_with_logits(objectness, labels.to(objectness.dtype));
        return (classification, BoxLoss(deltas, targetDeltas, RpnHuberDelta));
    }

    /// <summary>Box-head classification and class-agnostic box losses over sampled proposals.</summary>
    /// <param name="logits">[S, 1 + C] (index 0 background).</param>
    /// <param name="classes">[S] int64: 0 background, c + 1 for class c.</param>
    /// <param name="deltas">[P, 4] predicted deltas of the positives.</param>
    /// <param name="targetDeltas">[P, 4] encoded ground truth of the positives.</param>
    public static (Tensor Classification, Tensor Box) FastRcnn(Tensor logits, Tensor classes, Tensor deltas, Tensor targetDeltas)
    {
        using var scope = NewDisposeScope();
        var weights = ones(logits.shape[1], dtype: logits.dtype, device: logits.device);
        weights[0] = BackgroundWeight;
        // Weighted mean as torch's cross_entropy: sum of w_y * loss / sum of w_y.
        var classification = functional.cross_entropy(logits, classes, weight: weights);
        var box = BoxLoss(deltas, targetDeltas, BoxHuberDelta);
        return (classification.MoveToOuterDisposeScope(), box.MoveToOuterDisposeScope());
    }

    /// <summary>Mean Huber loss over the coordinates of the positives; 0 without positives.</summary>
    private static Tensor BoxLoss(Tensor deltas, Tensor targetDeltas, double delta) =>
        functional.huber_loss(deltas, targetDeltas, reduction: Reduction.Sum, delta: delta) / Math.Max(1, deltas.numel());

    /// <summary>Mask loss: mean per-pixel sigmoid cross-entropy over positive proposals.</summary>
    /// <param name="logits">[P, M, M] mask logits.</param>
    /// <param name="targets">[P, M, M] in [0, 1]: ground-truth masks resampled into each proposal.</param>
    public static Tensor Mask(Tensor logits, Tensor targets)
    {
        if (logits.shape[0] == 0) return logits.sum() * 0;
        return functional.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype));
    }
}
