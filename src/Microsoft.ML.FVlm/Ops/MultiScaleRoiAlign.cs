using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// RoIAlign over a feature pyramid: each box is pooled from one level, chosen by its size as in
/// the FPN paper, <c>k = floor(4 + log2(sqrt(area) / s))</c> clamped to the available levels
/// (P2..P5 for strides 4..32), the way torchvision's <c>MultiScaleRoIAlign</c> assigns them. The
/// canonical size <c>s</c> (the box side that lands on P4) is 224 in the FPN paper, torchvision and
/// detectron2 (its <c>canonical_box_size</c>).
/// </summary>
internal sealed class MultiScaleRoiAlign
{
    /// <summary>The FPN paper's canonical box size: a box of this side is pooled from P4.</summary>
    public const double DefaultCanonicalSize = 224;

    private const double CanonicalLevel = 4;
    private readonly int[] _strides;
    private readonly int _outputSize, _samplingRatio;
    private readonly double _canonicalSize;

    /// <param name="strides">Strides of the levels to pool from, fine to coarse (e.g. 4, 8, 16, 32).</param>
    /// <param name="outputSize">Output bins per side (7 for boxes, 14 for masks).</param>
    /// <param name="samplingRatio">Samples per bin per side.</param>
    /// <param name="canonicalSize">The box side, in input pixels, pooled from P4.</param>
    public MultiScaleRoiAlign(IReadOnlyList<int> strides, int outputSize, int samplingRatio = 2, double canonicalSize = DefaultCanonicalSize)
    {
        if (strides.Count == 0) throw new ArgumentException("At least one level is needed.", nameof(strides));
        if (!(canonicalSize > 0) || !double.IsFinite(canonicalSize))
            throw new ArgumentOutOfRangeException(nameof(canonicalSize), $"The canonical box size must be a positive number of pixels; got {canonicalSize}.");
        _strides = strides.ToArray();
        (_outputSize, _samplingRatio, _canonicalSize) = (outputSize, samplingRatio, canonicalSize);
    }

    /// <summary>Index into the levels for each box: [R] int64.</summary>
    public Tensor AssignLevels(Tensor boxes)
    {
        using var scope = NewDisposeScope();
        int minLevel = (int)Math.Round(Math.Log2(_strides[0]));
        int maxLevel = (int)Math.Round(Math.Log2(_strides[^1]));
        var size = BoxOps.Area(boxes).clamp(min: 1e-6).sqrt();
        // A small epsilon as torchvision, so that exact powers of two land on the intended level.
        var level = floor(CanonicalLevel + log2(size / _canonicalSize + 1e-6)).clamp(minLevel, maxLevel);
        return (level - minLevel).to(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>Pools boxes of one image.</summary>
    /// <param name="levels">Per level: [1, C, H / s, W / s] (or [C, H / s, W / s]).</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 input pixels.</param>
    /// <returns>[R, C, outputSize, outputSize], in the order of <paramref name="boxes"/>.</returns>
    public Tensor Forward(IReadOnlyList<Tensor> levels, Tensor boxes)
    {
        if (levels.Count != _strides.Length)
            throw new ArgumentException($"Expected {_strides.Length} levels; got {levels.Count}.", nameof(levels));
        using var scope = NewDisposeScope();
        long channels = levels[0].shape[levels[0].dim() - 3];
        if (boxes.shape[0] == 0)
            return zeros(0, channels, _outputSize, _outputSize, dtype: levels[0].dtype, device: levels[0].device).MoveToOuterDisposeScope();
        var assigned = AssignLevels(boxes);
        // Training: every level in one sparse product, each box reading only its own level's cells.
        if (RoiAlign.NeedsGradient(levels))
            return SparseRoiAlign.Forward(levels, boxes, assigned.cpu().data<long>().ToArray(), _strides.Select(s => 1.0 / s).ToArray(), _outputSize, _samplingRatio)
                .MoveToOuterDisposeScope();
        var pooledParts = new List<Tensor>();
        var indexParts = new List<Tensor>();
        for (int l = 0; l < levels.Count; l++)
        {
            var index = nonzero(assigned == l).view(-1);
            if (index.shape[0] == 0) continue;
            pooledParts.Add(RoiAlign.Forward(levels[l], boxes[index], _outputSize, 1.0 / _strides[l], _samplingRatio));
            indexParts.Add(index);
        }
        // Put the boxes back in their input order (a gather keeps gradients simple).
        var result = cat(pooledParts, 0)[argsort(cat(indexParts, 0))];
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds what <see cref="Forward"/> computes to <paramref name="graph"/>, for boxes of any images of a batch: each
    /// box's level by <see cref="AssignLevels"/>'s rule (log2 as natural log over ln 2), then per level the boxes of that
    /// level (<c>NonZero</c>, <c>Gather</c>) pooled with ONNX RoiAlign (<see cref="OnnxModules.RoiAlign"/>) and scattered
    /// into their rows of the output (<c>ScatterND</c>): each box is pooled once, on its own level.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The prefix of the nodes' names.</param>
    /// <param name="levels">The values [N, C, H / s, W / s] of the levels, fine to coarse.</param>
    /// <param name="boxes">The value [R, 4]: x0 y0 x1 y1 in input pixels.</param>
    /// <param name="batchIndices">The value [R] (int64): the image of each box.</param>
    /// <returns>The value [R, C, outputSize, outputSize].</returns>
    public string Export(OnnxGraphBuilder graph, string name, IReadOnlyList<string> levels, string boxes, string batchIndices)
    {
        if (levels.Count != _strides.Length)
            throw new ArgumentException($"Expected {_strides.Length} levels; got {levels.Count}.", nameof(levels));
        int minLevel = (int)Math.Round(Math.Log2(_strides[0]));
        int maxLevel = (int)Math.Round(Math.Log2(_strides[^1]));
        string[] corners = graph.Node("Split", $"{name}.corners", [boxes, graph.Int64s($"{name}.split", 1, 1, 1, 1)], 4, ("axis", 1L));
        string width = graph.Node("Sub", $"{name}.width", [corners[2], corners[0]]);
        string height = graph.Node("Sub", $"{name}.height", [corners[3], corners[1]]);
        string area = graph.Node("Max", $"{name}.area", [graph.Node("Mul", $"{name}.product", [width, height]), graph.Weight($"{name}.min_area", [1e-6f])]);
        string ratio = graph.Node("Add", $"{name}.ratio",
            [graph.Node("Div", $"{name}.relative", [graph.Node("Sqrt", $"{name}.size", [area]), graph.Weight($"{name}.canonical", [(float)_canonicalSize])]),
             graph.Weight($"{name}.eps", [1e-6f])]);
        string log2 = graph.Node("Div", $"{name}.log2", [graph.Node("Log", $"{name}.log", [ratio]), graph.Weight($"{name}.ln2", [(float)Math.Log(2)])]);
        string level = graph.Node("Floor", $"{name}.level", [graph.Node("Add", $"{name}.raw_level", [log2, graph.Weight($"{name}.canonical_level", [(float)CanonicalLevel])])]);
        // Levels below the finest or above the coarsest are clamped onto them; [R, 1] -> [R] level indices from 0.
        string levelIndex = graph.Node("Squeeze", $"{name}.level_index", [graph.Node("Cast", $"{name}.level_int", [graph.Node("Sub", $"{name}.level_from_zero",
            [graph.Node("Clip", $"{name}.clamped_level", [level, graph.Scalar($"{name}.min_level", (float)minLevel), graph.Scalar($"{name}.max_level", (float)maxLevel)]),
             graph.Weight($"{name}.first_level", [(float)minLevel])])], ("to", (long)Onnx.Proto.TensorProto.Types.DataType.Int64)), graph.Int64s($"{name}.level_axis", 1)]);
        string rows = graph.Node("Shape", $"{name}.rows", [boxes], ("end", 1L));
        string channels = graph.Node("Shape", $"{name}.channels", [levels[0]], ("start", 1L), ("end", 2L));
        string result = graph.Node("ConstantOfShape", $"{name}.empty", [graph.Node("Concat", $"{name}.shape",
            [rows, channels, graph.Int64s($"{name}.bins", _outputSize, _outputSize)], ("axis", 0L))]);
        for (int l = 0; l < levels.Count; l++)
        {
            string at = $"{name}.p{minLevel + l}";
            // [n, 1]: the rows of this level's boxes, as ScatterND indexes them.
            string indices = graph.Node("Transpose", $"{at}.rows", [graph.Node("NonZero", $"{at}.where", [graph.Node("Equal", $"{at}.is_level", [levelIndex, graph.Int64s($"{at}.level", l)])])],
                ("perm", new long[] { 1, 0 }));
            string flat = graph.Node("Squeeze", $"{at}.flat_rows", [indices, graph.Int64s($"{at}.squeeze_axis", 1)]);
            string pooled = graph.RoiAlign(at, levels[l], graph.Node("Gather", $"{at}.boxes", [boxes, flat], ("axis", 0L)),
                graph.Node("Gather", $"{at}.batch", [batchIndices, flat], ("axis", 0L)), _outputSize, 1.0 / _strides[l], _samplingRatio);
            result = graph.Node("ScatterND", $"{at}.scattered", [result, indices, pooled]);
        }
        return result;
    }
}
