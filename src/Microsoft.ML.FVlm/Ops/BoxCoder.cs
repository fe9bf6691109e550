using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// The R-CNN box parameterisation: deltas (dx, dy, dw, dh) of a target box relative to a reference
/// box, scaled by per-coordinate weights (1, 1, 1, 1 for the RPN; 10, 10, 5, 5 for the box head).
/// Decoding clamps dw and dh at log(1000 / 16) so that exp cannot overflow.
/// </summary>
internal sealed class BoxCoder
{
    /// <summary>The clamp on width and height deltas before exp: log(1000 / 16).</summary>
    public static readonly double DefaultScaleClamp = Math.Log(1000.0 / 16);

    private readonly double _wx, _wy, _ww, _wh, _scaleClamp;

    public BoxCoder(double wx, double wy, double ww, double wh, double? scaleClamp = null)
    {
        (_wx, _wy, _ww, _wh) = (wx, wy, ww, wh);
        _scaleClamp = scaleClamp ?? DefaultScaleClamp;
    }

    /// <summary>Deltas [N, 4] that take <paramref name="references"/> [N, 4] to <paramref name="targets"/> [N, 4].</summary>
    public Tensor Encode(Tensor references, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var (cx, cy, w, h) = CentreSize(references);
        var (tx, ty, tw, th) = CentreSize(targets);
        var deltas = stack([
            _wx * (tx - cx) / w,
            _wy * (ty - cy) / h,
            _ww * log(tw / w),
            _wh * log(th / h)], dim: 1);
        return deltas.MoveToOuterDisposeScope();
    }

    /// <summary>Boxes [N, 4] obtained by applying <paramref name="deltas"/> [N, 4] to <paramref name="references"/> [N, 4].</summary>
    public Tensor Decode(Tensor deltas, Tensor references)
    {
        using var scope = NewDisposeScope();
        var (cx, cy, w, h) = CentreSize(references.to(deltas.dtype));
        var dx = deltas[.., 0] / _wx;
        var dy = deltas[.., 1] / _wy;
        var dw = (deltas[.., 2] / _ww).clamp(max: _scaleClamp);
        var dh = (deltas[.., 3] / _wh).clamp(max: _scaleClamp);
        var centreX = dx * w + cx;
        var centreY = dy * h + cy;
        var halfWidth = 0.5 * exp(dw) * w;
        var halfHeight = 0.5 * exp(dh) * h;
        return stack([centreX - halfWidth, centreY - halfHeight, centreX + halfWidth, centreY + halfHeight], dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>Adds what <see cref="Decode"/> computes to <paramref name="graph"/>: boxes [R, 4] from deltas [R, 4] and reference boxes [R, 4].</summary>
    public string ExportDecode(OnnxGraphBuilder graph, string name, string deltas, string references)
    {
        string[] r = graph.Node("Split", $"{name}.references", [references, graph.Int64s($"{name}.split_r", 1, 1, 1, 1)], 4, ("axis", 1L));
        string[] d = graph.Node("Split", $"{name}.deltas", [deltas, graph.Int64s($"{name}.split_d", 1, 1, 1, 1)], 4, ("axis", 1L));
        string half = graph.Weight($"{name}.half", [0.5f]);
        string w = graph.Node("Sub", $"{name}.w", [r[2], r[0]]), h = graph.Node("Sub", $"{name}.h", [r[3], r[1]]);
        string cx = graph.Node("Add", $"{name}.cx", [r[0], graph.Node("Mul", $"{name}.half_w", [w, half])]);
        string cy = graph.Node("Add", $"{name}.cy", [r[1], graph.Node("Mul", $"{name}.half_h", [h, half])]);
        string Scaled(int i, double weight) => graph.Node("Div", $"{name}.d{i}", [d[i], graph.Weight($"{name}.weight{i}", [(float)weight])]);
        string clamp = graph.Weight($"{name}.scale_clamp", [(float)_scaleClamp]);
        string dw = graph.Node("Min", $"{name}.dw", [Scaled(2, _ww), clamp]), dh = graph.Node("Min", $"{name}.dh", [Scaled(3, _wh), clamp]);
        string centreX = graph.Node("Add", $"{name}.centre_x", [graph.Node("Mul", $"{name}.shift_x", [Scaled(0, _wx), w]), cx]);
        string centreY = graph.Node("Add", $"{name}.centre_y", [graph.Node("Mul", $"{name}.shift_y", [Scaled(1, _wy), h]), cy]);
        string halfWidth = graph.Node("Mul", $"{name}.half_width", [graph.Node("Mul", $"{name}.scaled_w", [half, graph.Node("Exp", $"{name}.exp_w", [dw])]), w]);
        string halfHeight = graph.Node("Mul", $"{name}.half_height", [graph.Node("Mul", $"{name}.scaled_h", [half, graph.Node("Exp", $"{name}.exp_h", [dh])]), h]);
        return graph.Node("Concat", name,
            [graph.Node("Sub", $"{name}.x0", [centreX, halfWidth]), graph.Node("Sub", $"{name}.y0", [centreY, halfHeight]),
             graph.Node("Add", $"{name}.x1", [centreX, halfWidth]), graph.Node("Add", $"{name}.y1", [centreY, halfHeight])], ("axis", 1L));
    }

    private static (Tensor Cx, Tensor Cy, Tensor W, Tensor H) CentreSize(Tensor boxes)
    {
        var w = boxes[.., 2] - boxes[.., 0];
        var h = boxes[.., 3] - boxes[.., 1];
        return (boxes[.., 0] + 0.5 * w, boxes[.., 1] + 0.5 * h, w, h);
    }
}
