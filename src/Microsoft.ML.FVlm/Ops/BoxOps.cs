using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>Box arithmetic on [N, 4] tensors of x0 y0 x1 y1 (pixels, x1 &gt;= x0, y1 &gt;= y0).</summary>
internal static class BoxOps
{
    /// <summary>[N] areas.</summary>
    public static Tensor Area(Tensor boxes) => (boxes[.., 2] - boxes[.., 0]) * (boxes[.., 3] - boxes[.., 1]);

    /// <summary>[N, M] intersection over union; 0 where the union is empty.</summary>
    public static Tensor Iou(Tensor boxes1, Tensor boxes2)
    {
        using var scope = NewDisposeScope();
        var area1 = Area(boxes1);
        var area2 = Area(boxes2);
        var topLeft = maximum(boxes1[.., TensorIndex.None, ..2], boxes2[TensorIndex.None, .., ..2]);
        var bottomRight = minimum(boxes1[.., TensorIndex.None, 2..], boxes2[TensorIndex.None, .., 2..]);
        var size = (bottomRight - topLeft).clamp(min: 0);
        var intersection = size[.., .., 0] * size[.., .., 1];
        var union = area1[.., TensorIndex.None] + area2[TensorIndex.None, ..] - intersection;
        return where(union > 0, intersection / union.clamp(min: 1e-12), zeros_like(union)).MoveToOuterDisposeScope();
    }

    /// <summary>Clips boxes to an image of <paramref name="height"/> x <paramref name="width"/> pixels.</summary>
    public static Tensor Clip(Tensor boxes, long height, long width)
    {
        using var scope = NewDisposeScope();
        var x = boxes[.., TensorIndex.Slice(0, null, 2)].clamp(0, width);
        var y = boxes[.., TensorIndex.Slice(1, null, 2)].clamp(0, height);
        return stack([x[.., 0], y[.., 0], x[.., 1], y[.., 1]], dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>[N] true where both sides are at least <paramref name="minSize"/>.</summary>
    public static Tensor IsLargeEnough(Tensor boxes, double minSize) =>
        ((boxes[.., 2] - boxes[.., 0]) >= minSize) & ((boxes[.., 3] - boxes[.., 1]) >= minSize);

    /// <summary>Adds what <see cref="Clip"/> computes to <paramref name="graph"/>: boxes [R, 4] clipped to an image of size [2] (float: height, width).</summary>
    public static string ExportClip(OnnxGraphBuilder graph, string name, string boxes, string imageSize)
    {
        string[] heightWidth = graph.Node("Split", $"{name}.image", [imageSize, graph.Int64s($"{name}.split2", 1, 1)], 2, ("axis", 0L));
        string limits = graph.Node("Concat", $"{name}.limits", [heightWidth[1], heightWidth[0], heightWidth[1], heightWidth[0]], ("axis", 0L));
        return graph.Node("Max", name, [graph.Node("Min", $"{name}.upper", [boxes, limits]), graph.Weight($"{name}.zero", [0f])]);
    }
}
