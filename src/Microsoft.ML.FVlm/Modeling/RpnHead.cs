using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The region proposal network's head, shared across pyramid levels: a 3x3 conv and ReLU, then
/// per location A objectness logits and 4A box deltas (A anchors per location).
/// </summary>
internal sealed class RpnHead : Module<Tensor[], (Tensor[] Objectness, Tensor[] Deltas)>
{
    [ComponentName(Name = "conv")]
    private readonly Conv2d _conv;
    [ComponentName(Name = "objectness")]
    private readonly Conv2d _objectness;
    [ComponentName(Name = "deltas")]
    private readonly Conv2d _deltas;

    public RpnHead(int channels, int anchorsPerLocation) : base(nameof(RpnHead))
    {
        _conv = Conv2d(channels, channels, 3, padding: 1);
        _objectness = Conv2d(channels, anchorsPerLocation, 1);
        _deltas = Conv2d(channels, anchorsPerLocation * 4, 1);
        foreach (var layer in new[] { _conv, _objectness, _deltas })
        {
            init.normal_(layer.weight!, std: 0.01);
            init.zeros_(layer.bias!);
        }
        RegisterComponents();
    }

    /// <param name="levels">P2..P6.</param>
    /// <returns>Per level: objectness [N, H * W * A] and deltas [N, H * W * A, 4], ordered as the anchors.</returns>
    public override (Tensor[] Objectness, Tensor[] Deltas) forward(Tensor[] levels)
    {
        var logits = new Tensor[levels.Length];
        var boxDeltas = new Tensor[levels.Length];
        for (int i = 0; i < levels.Length; i++)
        {
            using var scope = NewDisposeScope();
            var hidden = functional.relu(_conv.forward(levels[i]));
            long n = levels[i].shape[0];
            // [N, A, H, W] -> [N, H, W, A] -> [N, H * W * A], matching the anchor order (row, column, ratio).
            logits[i] = _objectness.forward(hidden).permute(0, 2, 3, 1).reshape(n, -1).MoveToOuterDisposeScope();
            var d = _deltas.forward(hidden);
            boxDeltas[i] = d.view(n, -1, 4, d.shape[2], d.shape[3]).permute(0, 3, 4, 1, 2).reshape(n, -1, 4).MoveToOuterDisposeScope();
        }
        return (logits, boxDeltas);
    }

    /// <summary>Adds what <see cref="forward"/> computes to <paramref name="graph"/>: per level, the objectness [N, H * W * A] and deltas [N, H * W * A, 4] values.</summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="levels">The values P2..P6.</param>
    public (string[] Objectness, string[] Deltas) Export(OnnxGraphBuilder graph, IReadOnlyList<string> levels)
    {
        var conv = graph.ConvWeightsOf("rpn.conv", _conv.weight!, _conv.bias);
        var objectnessConv = graph.ConvWeightsOf("rpn.objectness", _objectness.weight!, _objectness.bias);
        var deltasConv = graph.ConvWeightsOf("rpn.deltas", _deltas.weight!, _deltas.bias);
        // [N, A, H, W] -> [N, H, W, A] -> [N, H * W * A]; the deltas' channels are (anchor, coordinate), so
        // [N, 4A, H, W] -> [N, H, W, 4A] -> [N, H * W * A, 4] is forward's view, permute and reshape in one.
        string flat = graph.Int64s("rpn.flat", 0, -1);
        string rows = graph.Int64s("rpn.rows", 0, -1, 4);
        var objectness = new string[levels.Count];
        var deltas = new string[levels.Count];
        for (int i = 0; i < levels.Count; i++)
        {
            string hidden = graph.Node("Relu", $"rpn.{i}.relu", [graph.Conv($"rpn.{i}.conv", levels[i], conv, padding: 1)]);
            string logits = graph.Node("Transpose", $"rpn.{i}.objectness.nhwc", [graph.Conv($"rpn.{i}.objectness", hidden, objectnessConv, padding: 0)], ("perm", new long[] { 0, 2, 3, 1 }));
            objectness[i] = graph.Node("Reshape", $"rpn.{i}.objectness.flat", [logits, flat]);
            string d = graph.Node("Transpose", $"rpn.{i}.deltas.nhwc", [graph.Conv($"rpn.{i}.deltas", hidden, deltasConv, padding: 0)], ("perm", new long[] { 0, 2, 3, 1 }));
            deltas[i] = graph.Node("Reshape", $"rpn.{i}.deltas.rows", [d, rows]);
        }
        return (objectness, deltas);
    }
}
