using Microsoft.ML.FVlm.Onnx;
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

    /// <summary>
    /// Adds what <see cref="Select"/> computes to <paramref name="graph"/> for one image. Per level: <c>TopK</c>, decoding,
    /// clipping; a box too small or with a non-finite logit gets a score far below any logit, which NMS's score threshold
    /// drops. NMS within each level is ONNX NonMaxSuppression with the levels as classes (each class row holds its level's
    /// scores and the far-below score elsewhere); the best <c>postNmsTopK</c> survivors over all levels are taken by
    /// <c>TopK</c>.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The prefix of the nodes' names.</param>
    /// <param name="objectness">Per level, the value [1, A_l] of logits.</param>
    /// <param name="deltas">Per level, the value [1, A_l, 4].</param>
    /// <param name="anchors">Per level, the value [A_l, 4].</param>
    /// <param name="imageSize">The value [2] (float): the image's height and width on the canvas.</param>
    /// <returns>The proposals [P, 4] and their logits [P], best first.</returns>
    public (string Boxes, string Scores) Export(OnnxGraphBuilder graph, string name, IReadOnlyList<string> objectness, IReadOnlyList<string> deltas,
        IReadOnlyList<string> anchors, string imageSize)
    {
        string minSize = graph.Weight($"{name}.min_size", [(float)_minSize]);
        string dropped = graph.Weight($"{name}.dropped", [-3e38f]);
        string firstAxis = graph.Int64s($"{name}.axis0", 0), secondAxis = graph.Int64s($"{name}.axis1", 1);
        string preNms = graph.Int64s($"{name}.pre_nms", _preNmsTopK);
        var levelBoxes = new string[objectness.Count];
        var levelScores = new string[objectness.Count];
        for (int l = 0; l < objectness.Count; l++)
        {
            string logits = graph.Node("Squeeze", $"{name}.{l}.logits", [objectness[l], firstAxis]);
            string k = graph.Node("Min", $"{name}.{l}.k", [graph.Node("Shape", $"{name}.{l}.count", [logits]), preNms]);
            string[] top = graph.Node("TopK", $"{name}.{l}.top", [logits, k], 2, ("axis", 0L), ("largest", 1L), ("sorted", 1L));
            string levelDeltas = graph.Node("Gather", $"{name}.{l}.deltas", [graph.Node("Squeeze", $"{name}.{l}.all_deltas", [deltas[l], firstAxis]), top[1]], ("axis", 0L));
            string levelAnchors = graph.Node("Gather", $"{name}.{l}.anchors", [anchors[l], top[1]], ("axis", 0L));
            string decoded = _coder.ExportDecode(graph, $"{name}.{l}.decode", levelDeltas, levelAnchors);
            string boxes = BoxOps.ExportClip(graph, $"{name}.{l}.boxes", decoded, imageSize);
            string[] c = graph.Node("Split", $"{name}.{l}.corners", [boxes, graph.Int64s($"{name}.{l}.split4", 1, 1, 1, 1)], 4, ("axis", 1L));
            string wide = graph.Node("GreaterOrEqual", $"{name}.{l}.wide", [graph.Node("Sub", $"{name}.{l}.w", [c[2], c[0]]), minSize]);
            string tall = graph.Node("GreaterOrEqual", $"{name}.{l}.tall", [graph.Node("Sub", $"{name}.{l}.h", [c[3], c[1]]), minSize]);
            string large = graph.Node("Squeeze", $"{name}.{l}.large", [graph.Node("And", $"{name}.{l}.large2d", [wide, tall]), secondAxis]);
            string finite = graph.Node("Not", $"{name}.{l}.finite", [graph.Node("Or", $"{name}.{l}.not_finite",
                [graph.Node("IsInf", $"{name}.{l}.inf", [top[0]]), graph.Node("IsNaN", $"{name}.{l}.nan", [top[0]])])]);
            levelScores[l] = graph.Node("Where", $"{name}.{l}.scores", [graph.Node("And", $"{name}.{l}.keep", [large, finite]), top[0], dropped]);
            levelBoxes[l] = boxes;
        }
        string allBoxes = graph.Node("Concat", $"{name}.boxes", levelBoxes, ("axis", 0L));
        string allScores = graph.Node("Concat", $"{name}.scores", levelScores, ("axis", 0L));
        // Class l's row: level l's scores, the dropped score for the other levels' boxes.
        var rows = new string[objectness.Count];
        for (int l = 0; l < objectness.Count; l++)
        {
            var parts = levelScores.Select((scores, m) => m == l ? scores
                : graph.Node("Expand", $"{name}.row{l}.level{m}", [dropped, graph.Node("Shape", $"{name}.row{l}.size{m}", [scores])])).ToArray();
            rows[l] = graph.Node("Unsqueeze", $"{name}.row{l}", [graph.Node("Concat", $"{name}.row{l}.flat", parts, ("axis", 0L)), firstAxis]);
        }
        string classScores = graph.Node("Unsqueeze", $"{name}.class_scores", [graph.Node("Concat", $"{name}.rows", rows, ("axis", 0L)), firstAxis]);
        string selected = graph.Node("NonMaxSuppression", $"{name}.nms",
            [graph.Node("Unsqueeze", $"{name}.nms_boxes", [allBoxes, firstAxis]), classScores, preNms,
             graph.Weight($"{name}.iou", [(float)_nmsThreshold]), graph.Weight($"{name}.score_floor", [-1e38f])]);
        string survivors = graph.Node("Squeeze", $"{name}.survivors",
            [graph.Node("Slice", $"{name}.box_column", [selected, graph.Int64s($"{name}.col2", 2), graph.Int64s($"{name}.col3", 3), secondAxis]), secondAxis]);
        string survivorScores = graph.Node("Gather", $"{name}.survivor_scores", [allScores, survivors], ("axis", 0L));
        string kept = graph.Node("Min", $"{name}.kept", [graph.Node("Shape", $"{name}.survivor_count", [survivors]), graph.Int64s($"{name}.post_nms", _postNmsTopK)]);
        string[] best = graph.Node("TopK", $"{name}.best", [survivorScores, kept], 2, ("axis", 0L), ("largest", 1L), ("sorted", 1L));
        string order = graph.Node("Gather", $"{name}.order", [survivors, best[1]], ("axis", 0L));
        return (graph.Node("Gather", $"{name}.proposals", [allBoxes, order], ("axis", 0L)), best[0]);
    }
}
