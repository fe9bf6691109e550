using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// Anchors for a feature pyramid: at every location of level l (stride s_l), one anchor per aspect
/// ratio r with area size_l^2 and height / width = r, centred on the location's top-left corner
/// times the stride (torchvision's convention; corners rounded to whole pixels).
/// </summary>
internal sealed class AnchorGenerator
{
    private readonly double[] _sizes;
    private readonly double[] _aspectRatios;
    private readonly float[][] _cellAnchors;

    /// <param name="sizes">Anchor side (square root of area) per level, in pixels, e.g. 32, 64, 128, 256, 512 for P2..P6.</param>
    /// <param name="aspectRatios">Height / width ratios, the same at every level, e.g. 0.5, 1, 2.</param>
    public AnchorGenerator(IReadOnlyList<double> sizes, IReadOnlyList<double> aspectRatios)
    {
        if (sizes.Count == 0 || sizes.Any(s => !(s > 0))) throw new ArgumentException("Anchor sizes must be positive, one per level.", nameof(sizes));
        if (aspectRatios.Count == 0 || aspectRatios.Any(r => !(r > 0))) throw new ArgumentException("Aspect ratios must be positive.", nameof(aspectRatios));
        _sizes = sizes.ToArray();
        _aspectRatios = aspectRatios.ToArray();
        _cellAnchors = _sizes.Select(CellAnchors).ToArray();
    }

    /// <summary>Anchors per location (the number of aspect ratios).</summary>
    public int AnchorsPerLocation => _aspectRatios.Length;

    /// <summary>Number of levels.</summary>
    public int LevelCount => _sizes.Length;

    private float[] CellAnchors(double size)
    {
        var values = new float[_aspectRatios.Length * 4];
        for (int i = 0; i < _aspectRatios.Length; i++)
        {
            double heightRatio = Math.Sqrt(_aspectRatios[i]);
            double width = size / heightRatio, height = size * heightRatio;
            values[i * 4 + 0] = (float)Math.Round(-width / 2, MidpointRounding.ToEven);
            values[i * 4 + 1] = (float)Math.Round(-height / 2, MidpointRounding.ToEven);
            values[i * 4 + 2] = (float)Math.Round(width / 2, MidpointRounding.ToEven);
            values[i * 4 + 3] = (float)Math.Round(height / 2, MidpointRounding.ToEven);
        }
        return values;
    }

    /// <summary>
    /// Anchors of one level for a feature map of <paramref name="height"/> x <paramref name="width"/>
    /// cells at <paramref name="stride"/> pixels: [height * width * A, 4] x0 y0 x1 y1, ordered by
    /// row, then column, then aspect ratio (the order of the RPN head's outputs).
    /// </summary>
    public Tensor LevelAnchors(int level, long height, long width, int stride, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var shiftsX = arange(width, dtype: ScalarType.Float32) * stride;
        var shiftsY = arange(height, dtype: ScalarType.Float32) * stride;
        var grid = meshgrid([shiftsY, shiftsX], indexing: "ij");
        var y = grid[0].reshape(-1);
        var x = grid[1].reshape(-1);
        var shifts = stack([x, y, x, y], dim: 1);
        var cell = tensor(_cellAnchors[level], [_aspectRatios.Length, 4]);
        var anchors = (shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4);
        if (device is not null) anchors = anchors.to(device);
        return anchors.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds what <see cref="LevelAnchors"/> computes to <paramref name="graph"/>, from the size of the level's feature map
    /// (so one graph serves every canvas): the value [H * W * A, 4].
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The prefix of the nodes' names.</param>
    /// <param name="level">The level's index.</param>
    /// <param name="featureMap">The level's value [N, C, H, W].</param>
    /// <param name="stride">The level's stride in pixels.</param>
    public string Export(OnnxGraphBuilder graph, string name, int level, string featureMap, int stride)
    {
        string size = graph.Node("Shape", $"{name}.size", [featureMap], ("start", 2L));
        string[] hw = graph.Node("Split", $"{name}.hw", [size, graph.Int64s($"{name}.split", 1, 1)], 2, ("axis", 0L));
        string zero = graph.Int64s($"{name}.zero", 0), one = graph.Int64s($"{name}.one", 1);
        string Steps(string axis, string count) => graph.Node("Mul", $"{name}.shifts_{axis}",
            [graph.Node("Cast", $"{name}.{axis}", [graph.Node("Range", $"{name}.range_{axis}",
                [graph.Node("Squeeze", $"{name}.{axis}_start", [zero]), graph.Node("Squeeze", $"{name}.{axis}_count", [count]), graph.Node("Squeeze", $"{name}.{axis}_step", [one])])],
                ("to", (long)Microsoft.ML.FVlm.Onnx.Proto.TensorProto.Types.DataType.Float)),
             graph.Weight($"{name}.stride_{axis}", [(float)stride])]);
        string ys = Steps("y", hw[0]), xs = Steps("x", hw[1]);
        // meshgrid(y, x, indexing "ij"), flattened row by row.
        string y = graph.Node("Reshape", $"{name}.grid_y", [graph.Node("Expand", $"{name}.rows", [graph.Node("Unsqueeze", $"{name}.column", [ys, one]), size]), graph.Int64s($"{name}.flat_y", -1, 1)]);
        string x = graph.Node("Reshape", $"{name}.grid_x", [graph.Node("Expand", $"{name}.columns", [graph.Node("Unsqueeze", $"{name}.row", [xs, zero]), size]), graph.Int64s($"{name}.flat_x", -1, 1)]);
        string shifts = graph.Node("Concat", $"{name}.shifts", [x, y, x, y], ("axis", 1L));
        string cell = graph.Weight($"{name}.cell", _cellAnchors[level], 1, _aspectRatios.Length, 4);
        string anchors = graph.Node("Add", $"{name}.per_location", [graph.Node("Unsqueeze", $"{name}.locations", [shifts, one]), cell]);
        return graph.Node("Reshape", name, [anchors, graph.Int64s($"{name}.rows4", -1, 4)]);
    }
}
