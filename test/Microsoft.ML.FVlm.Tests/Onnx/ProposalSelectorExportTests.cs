using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Ops;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>The RPN's proposal selection as an ONNX graph (TopK, decoding, clipping, NonMaxSuppression per level, TopK), against ProposalSelector.</summary>
public class ProposalSelectorExportTests
{
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    [TestCase(60, 40)]
    [TestCase(1000, 1000)]
    public void TheGraphSelectsTheProposalsTheSelectorSelects(int preNmsTopK, int postNmsTopK)
    {
        manual_seed(12);
        var generator = new AnchorGenerator([16, 32, 64, 128, 256], [0.5, 1, 2]);
        var selector = new ProposalSelector(new BoxCoder(1, 1, 1, 1), preNmsTopK, postNmsTopK, 0.7);
        int[] strides = [4, 8, 16, 32, 64];
        const int height = 160, width = 224;
        var graph = new OnnxGraphBuilder("proposals");
        var objectness = new string[5];
        var deltas = new string[5];
        var anchors = new string[5];
        for (int l = 0; l < 5; l++)
        {
            objectness[l] = graph.Input($"objectness{l}", Float, 1, $"a{l}");
            deltas[l] = graph.Input($"deltas{l}", Float, 1, $"a{l}", 4);
            anchors[l] = generator.Export(graph, $"anchors{l}", l, graph.Input($"map{l}", Float, 1, 1, $"h{l}", $"w{l}"), strides[l]);
        }
        var (boxes, scores) = selector.Export(graph, "select", objectness, deltas, anchors, graph.Input("image_size", Float, 2));
        graph.Output(boxes, "boxes", Float, "p", 4);
        graph.Output(scores, "scores", Float, "p");
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var maps = strides.Select(s => zeros(1, 1, (height + s - 1) / s, (width + s - 1) / s)).ToArray();
        var levelAnchors = strides.Select((s, l) => generator.LevelAnchors(l, maps[l].shape[2], maps[l].shape[3], s)).ToArray();
        var logits = levelAnchors.Select(a => randn(1, a.shape[0]) * 3).ToArray();
        var levelDeltas = levelAnchors.Select(a => randn(1, a.shape[0], 4) * 0.5).ToArray();
        // A logit the selector must drop (not finite) on the finest level.
        logits[0][0, 0] = float.NaN;

        var (expectedBoxes, expectedScores) = selector.Select(logits.Select(l => l[0]).ToArray(), levelDeltas.Select(d => d[0]).ToArray(), levelAnchors, height, width);
        var inputs = new List<(string, Tensor)>();
        for (int l = 0; l < 5; l++) inputs.AddRange([($"objectness{l}", logits[l]), ($"deltas{l}", levelDeltas[l]), ($"map{l}", maps[l])]);
        inputs.Add(("image_size", tensor(new float[] { height, width })));
        var actual = runner.Run(inputs, ["boxes", "scores"]);

        Assert.That(expectedScores.shape[0], Is.GreaterThan(20).And.LessThanOrEqualTo(postNmsTopK), "the premise: NMS leaves many proposals");
        OnnxRunner.AssertClose(actual[1], expectedScores, 0, "scores, best first");
        OnnxRunner.AssertClose(actual[0], expectedBoxes, 1e-3, "boxes (pixels)");
    }
}
