using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>
/// The whole head's inference for one image (pyramid, RPN with proposal selection, multi-level pooling, box head,
/// classifier, decoding) as one ONNX graph, against the TorchSharp head. The graph's pyramid folds batch norm, so its
/// RPN logits differ from the module's in the last bits and a proposal at a top-k or NMS boundary may differ: the
/// comparison matches proposals one to one (every coordinate within 1e-3 px) and requires 99 % of them matched.
/// </summary>
public class DetectorHeadExportTests
{
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    [Test]
    public void TheHeadsGraphProposesClassifiesAndRefinesAsTheHead()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        manual_seed(13);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture);
        OnnxRunner.MoveBatchNormsAwayFromIdentity(head);
        head.eval();
        var levels = vlm.Manifest.ImageEncoder.FeatureLevels;
        var graph = new OnnxGraphBuilder("detector_head");
        var features = levels.Select((l, i) => graph.Input($"c{i + 2}", Float, 1, l.Channels, $"h{i}", $"w{i}")).ToArray();
        var (proposals, objectness, boxes, probabilities, _) = head.Export(graph, features, graph.Input("text", Float, "c", vlm.Manifest.EmbeddingDim), graph.Input("image_size", Float, 2));
        graph.Output(proposals, "proposals", Float, "p", 4);
        graph.Output(objectness, "objectness", Float, "p");
        graph.Output(boxes, "boxes", Float, "p", 4);
        graph.Output(probabilities, "probabilities", Float, "p", "classes");
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        const int height = 96, width = 128;
        var maps = levels.Select(l => randn(1, l.Channels, height / l.Stride, width / l.Stride)).ToArray();
        var text = nn.functional.normalize(randn(3, vlm.Manifest.EmbeddingDim), dim: -1);

        DetectorOutput expected;
        using (no_grad()) expected = head.forward(new DetectorInput(maps, [(height, width)], text));
        var inputs = maps.Select((m, i) => ($"c{i + 2}", m)).Append(("text", text)).Append(("image_size", tensor(new float[] { height, width }))).ToArray();
        var actual = runner.Run(inputs, ["proposals", "objectness", "boxes", "probabilities"]);

        var expectedProposals = Rows(expected.Proposals[0]);
        var actualProposals = Rows(actual[0].Values, 4);
        Assert.That(expectedProposals, Has.Length.GreaterThan(20), "the premise: the head proposes");
        var pairs = Match(expectedProposals, actualProposals);
        Assert.That(pairs.Count, Is.GreaterThanOrEqualTo(0.99 * expectedProposals.Length), $"{pairs.Count} of {expectedProposals.Length} proposals matched ({actualProposals.Length} in the graph)");
        var classes = expected.Regions![0].Probabilities.shape[1];
        Assert.That(actual[3].Shape, Is.EqualTo(new[] { actualProposals.Length, classes }));
        var expectedObjectness = expected.ProposalObjectness![0].data<float>().ToArray();
        var expectedBoxes = Rows(expected.Regions[0].Boxes);
        var expectedProbabilities = Rows(expected.Regions[0].Probabilities);
        var actualBoxes = Rows(actual[2].Values, 4);
        var actualProbabilities = Rows(actual[3].Values, (int)classes);
        foreach (var (e, a) in pairs)
        {
            Assert.That(actual[1].Values[a], Is.EqualTo(expectedObjectness[e]).Within(1e-4), $"objectness of proposal {e}");
            Assert.That(actualBoxes[a], Is.EqualTo(expectedBoxes[e]).Within(1e-3), $"refined box of proposal {e}");
            Assert.That(actualProbabilities[a], Is.EqualTo(expectedProbabilities[e]).Within(1e-4), $"probabilities of proposal {e}");
        }
    }

    [TestCase(0)]
    [TestCase(4)]
    public void TheMaskGraphPredictsTheHeadsMasksForGivenBoxes(int pixelChannels)
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        manual_seed(14);
        using var head = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture with { MaskPixelChannels = pixelChannels });
        OnnxRunner.MoveBatchNormsAwayFromIdentity(head);
        head.eval();
        int[] strides = [4, 8, 16, 32, 64];
        var graph = new OnnxGraphBuilder("masks");
        var levels = strides.Select(s => graph.Input($"p{s}", Float, 1, TinyModels.Architecture.PyramidChannels, $"h{s}", $"w{s}")).ToArray();
        string? canvas = head.RoiHeads.MasksUsePixels ? graph.Input("canvas", Float, 1, 3, "height", "width") : null;
        graph.Output(head.RoiHeads.ExportMasks(graph, levels, graph.Input("boxes", Float, "r", 4), canvas), "masks", Float, "r", RoiHeads.MaskSize, RoiHeads.MaskSize);
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var maps = strides.Select(s => randn(1, TinyModels.Architecture.PyramidChannels, 128 / s + 1, 160 / s + 1)).ToArray();
        var pixels = randn(1, 3, 128, 160);
        var corners = rand(9, 2) * 90;
        var boxes = cat([corners, corners + rand(9, 2) * 100 + 2], 1);

        Tensor expected;
        using (no_grad()) expected = head.RoiHeads.PredictMasks(maps, 0, boxes, pixels);
        var inputs = maps.Select((m, i) => ($"p{strides[i]}", m)).Append(("boxes", boxes)).ToList();
        if (canvas is not null) inputs.Add(("canvas", pixels));
        var actual = runner.Run(inputs, ["masks"]);

        OnnxRunner.AssertClose(actual[0], expected, 1e-4, $"mask logits, {pixelChannels} pixel channels");
    }

    /// <summary>Pairs (expected row, actual row) with every value within 1e-3, one to one, the same index first.</summary>
    private static List<(int Expected, int Actual)> Match(float[][] expected, float[][] actual)
    {
        var used = new bool[actual.Length];
        var pairs = new List<(int, int)>();
        bool Close(float[] a, float[] b) => a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-3);
        for (int e = 0; e < expected.Length; e++)
        {
            int a = e < actual.Length && !used[e] && Close(expected[e], actual[e]) ? e
                : Enumerable.Range(0, actual.Length).FirstOrDefault(i => !used[i] && Close(expected[e], actual[i]), -1);
            if (a < 0) continue;
            used[a] = true;
            pairs.Add((e, a));
        }
        return pairs;
    }

    private static float[][] Rows(Tensor matrix) => Rows(matrix.contiguous().data<float>().ToArray(), (int)matrix.shape[1]);

    private static float[][] Rows(float[] values, int width) => values.Chunk(width).ToArray();
}
