using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>The RPN head, the box head, the mask head and the region-text classifier as ONNX graphs, run by ONNX Runtime, against the modules.</summary>
public class HeadModuleExportTests
{
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    [Test]
    public void TheRpnHeadGivesTheModulesObjectnessAndDeltasOnEveryLevel()
    {
        manual_seed(5);
        using var head = new RpnHead(8, 3);
        RandomiseBiases(head);
        head.eval();
        var graph = new OnnxGraphBuilder("rpn_head");
        var levels = Enumerable.Range(0, 3).Select(i => graph.Input($"p{i}", Float, "n", 8, $"h{i}", $"w{i}")).ToArray();
        var (objectness, deltas) = head.Export(graph, levels);
        for (int i = 0; i < 3; i++)
        {
            graph.Output(objectness[i], $"objectness{i}", Float, "n", $"a{i}");
            graph.Output(deltas[i], $"deltas{i}", Float, "n", $"a{i}", 4);
        }
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var inputs = new[] { randn(2, 8, 12, 10), randn(2, 8, 6, 5), randn(2, 8, 3, 3) };

        (Tensor[] Objectness, Tensor[] Deltas) expected;
        using (no_grad()) expected = head.forward(inputs);
        var actual = runner.Run(inputs.Select((t, i) => ($"p{i}", t)).ToArray(), Enumerable.Range(0, 3).SelectMany(i => new[] { $"objectness{i}", $"deltas{i}" }).ToArray());

        for (int i = 0; i < 3; i++)
        {
            OnnxRunner.AssertClose(actual[2 * i], expected.Objectness[i], 1e-5, $"objectness of level {i}");
            OnnxRunner.AssertClose(actual[2 * i + 1], expected.Deltas[i], 1e-5, $"deltas of level {i}");
        }
    }

    [Test]
    public void TheBoxHeadGivesTheModulesEmbeddingsAndDeltas()
    {
        manual_seed(6);
        using var head = new BoxHead(8, 16, 32, 12);
        OnnxRunner.MoveBatchNormsAwayFromIdentity(head);
        head.eval();
        var graph = new OnnxGraphBuilder("box_head");
        var (embeddings, deltas) = head.Export(graph, graph.Input("pooled", Float, "r", 8, BoxHead.PoolSize, BoxHead.PoolSize));
        graph.Output(embeddings, "embeddings", Float, "r", 12);
        graph.Output(deltas, "deltas", Float, "r", 4);
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var pooled = randn(5, 8, BoxHead.PoolSize, BoxHead.PoolSize);

        (Tensor Embeddings, Tensor Deltas) expected;
        using (no_grad()) expected = head.forward(pooled);
        var actual = runner.Run([("pooled", pooled)], ["embeddings", "deltas"]);

        OnnxRunner.AssertClose(actual[0], expected.Embeddings, 1e-4, "embeddings");
        OnnxRunner.AssertClose(actual[1], expected.Deltas, 1e-4, "deltas");
    }

    [TestCase(0)]
    [TestCase(4)]
    public void TheMaskHeadGivesTheModulesLogitsWithAndWithoutAPixelBranch(int pixelChannels)
    {
        manual_seed(8);
        using var head = new MaskHead(8, 16, pixelChannels);
        OnnxRunner.MoveBatchNormsAwayFromIdentity(head);
        RandomiseBiases(head);
        head.eval();
        var graph = new OnnxGraphBuilder("mask_head");
        string pooled = graph.Input("pooled", Float, "r", 8, 14, 14);
        string? pixels = head.UsesPixels ? graph.Input("pixels", Float, "r", 3, RoiHeads.MaskSize, RoiHeads.MaskSize) : null;
        graph.Output(head.Export(graph, pooled, pixels), "logits", Float, "r", RoiHeads.MaskSize, RoiHeads.MaskSize);
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var features = randn(3, 8, 14, 14);
        var canvas = randn(3, 3, RoiHeads.MaskSize, RoiHeads.MaskSize);

        Tensor expected;
        using (no_grad()) expected = head.Forward(features, head.UsesPixels ? canvas : null);
        var actual = runner.Run(head.UsesPixels ? [("pooled", features), ("pixels", canvas)] : [("pooled", features)], ["logits"]);

        Assert.That(expected.shape, Is.EqualTo(new long[] { 3, RoiHeads.MaskSize, RoiHeads.MaskSize }));
        OnnxRunner.AssertClose(actual[0], expected, 1e-4, $"mask logits, {pixelChannels} pixel channels");
    }

    [Test]
    public void TheClassifierGivesTheModulesLogitsForAnyVocabulary()
    {
        manual_seed(7);
        using var classifier = new RegionTextClassifier(12);
        using (no_grad()) classifier.state_dict()["log_scale"].fill_(0.7);
        classifier.eval();
        var graph = new OnnxGraphBuilder("classifier");
        string logits = classifier.Export(graph, graph.Input("regions", Float, "r", 12), graph.Input("text", Float, "c", 12));
        graph.Output(logits, "logits", Float, "r", "classes");
        using var runner = new OnnxRunner(graph.Build());

        foreach (int classes in new[] { 3, 40 })
        {
            using var scope = NewDisposeScope();
            var regions = randn(6, 12) * 3;
            var text = nn.functional.normalize(randn(classes, 12), dim: -1);
            Tensor expected;
            using (no_grad()) expected = classifier.forward(regions, text);

            var actual = runner.Run([("regions", regions), ("text", text)], ["logits"]);

            Assert.That(expected.shape, Is.EqualTo(new long[] { 6, 1 + classes }));
            // Logits are cosines over a temperature near 0.005: a tolerance of 1e-3 is 5e-6 in cosine.
            OnnxRunner.AssertClose(actual[0], expected, 1e-3, $"logits over {classes} classes");
        }
    }

    private static void RandomiseBiases(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (name, tensor) in module.state_dict())
            if (name.EndsWith(".bias")) tensor.copy_(randn_like(tensor) * 0.1);
    }
}
