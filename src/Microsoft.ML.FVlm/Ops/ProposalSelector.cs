using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// Turns RPN outputs into proposals for one image: the top <c>preNmsTopK</c> anchors per level by
/// objectness, decoded and clipped, boxes smaller than <c>minSize</c> dropped, NMS within each level
/// at <c>nmsThreshold</c> (0.7), and the best <c>postNmsTopK</c> (1000) kept over all levels.
/// </summary>
internal sealed class ProposalSelector
{
    private readonly BoxCoder _coder;
    private readonly int _preNmsTopK, _postNmsTopK;
    private readonly double _nmsThreshold, _minSize;

    public ProposalSelector(BoxCoder coder, int preNmsTopK, int postNmsTopK, double nmsThreshold, double minSize = 1e-3)
    {
        _coder = coder;
        (_preNmsTopK, _postNmsTopK, _nmsThreshold, _minSize) = (preNmsTopK, postNmsTopK, nmsThreshold, minSize);
    }

    /// <param name="objectness">Per level: [A_l] logits of this image.</param>
    /// <param name="deltas">Per level: [A_l, 4].</param>
    /// <param name="anchors">Per level: [A_l, 4].</param>
    /// <param name="height">Image height in pixels (boxes are clipped to it).</param>
    /// <param name="width">Image width in pixels.</param>
    /// <returns>Proposals [P, 4] x0 y0 x1 y1 and their objectness logits [P], best first; no gradient.</returns>
    public (Tensor Boxes, Tensor Scores) Select(IReadOnlyList<Tensor> objectness, IReadOnlyList<Tensor> deltas, IReadOnlyList<Tensor> anchors, long height, long width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var levelBoxes = new List<float>();
        var levelScores = new List<float>();
        var levelIds = new List<int>();
        for (int level = 0; level < objectness.Count; level++)
        {
            var logits = objectness[level].detach();
            int k = (int)Math.Min(_preNmsTopK, logits.shape[0]);
            var (top, index) = logits.topk(k);
            var boxes = BoxOps.Clip(_coder.Decode(deltas[level].detach()[index], anchors[level][index]), height, width);
            var keep = BoxOps.IsLargeEnough(boxes, _minSize) & isfinite(top);
            boxes = boxes[keep].contiguous();
            top = top[keep].contiguous();
            if (top.shape[0] == 0) continue;
            levelBoxes.AddRange(boxes.data<float>().ToArray());
            levelScores.AddRange(top.data<float>().ToArray());
            levelIds.AddRange(Enumerable.Repeat(level, (int)top.shape[0]));
        }
        var boxArray = levelBoxes.ToArray();
        var scoreArray = levelScores.ToArray();
        int[] kept = Nms.Batched(boxArray, scoreArray, levelIds.ToArray(), _nmsThreshold, _postNmsTopK);
        var keptBoxes = new float[kept.Length * 4];
        var keptScores = new float[kept.Length];
        for (int i = 0; i < kept.Length; i++)
        {
            Array.Copy(boxArray, kept[i] * 4, keptBoxes, i * 4, 4);
            keptScores[i] = scoreArray[kept[i]];
        }
        // Batched NMS returns boxes by decreasing score across levels, as torchvision's.
        var device = objectness[0].device;
        return (tensor(keptBoxes, [kept.Length, 4]).to(device).MoveToOuterDisposeScope(), tensor(keptScores).to(device).MoveToOuterDisposeScope());
    }
}
