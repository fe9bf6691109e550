using Google.Protobuf;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>The feature pyramid as an ONNX graph (batch norm folded into the convs), run by ONNX Runtime, against the module itself.</summary>
public class FeaturePyramidExportTests
{
    private static readonly int[] InChannels = [8, 16, 32, 64];
    private const int Channels = 16;

    [Test]
    public void TheExportedPyramidComputesWhatTheModuleComputesAtAnyCanvasSize()
    {
        manual_seed(3);
        using var pyramid = new FeaturePyramid(InChannels, Channels);
        OnnxRunner.MoveBatchNormsAwayFromIdentity(pyramid);
        pyramid.eval();
        using var runner = new OnnxRunner(Export(pyramid));

        // One graph for every canvas: the sizes are symbolic.
        foreach (var (height, width) in new[] { (64, 96), (96, 32) })
        {
            using var scope = NewDisposeScope();
            var features = InChannels.Select((c, i) => randn(2, c, height >> (i + 2), width >> (i + 2))).ToArray();
            Tensor[] expected;
            using (no_grad()) expected = pyramid.forward(features);

            var actual = runner.Run(features.Select((f, i) => ($"c{i + 2}", f)).ToArray(), ["p2", "p3", "p4", "p5", "p6"]);

            for (int level = 0; level < 5; level++)
                OnnxRunner.AssertClose(actual[level], expected[level], 1e-4, $"P{level + 2} at {height} x {width}");
        }
    }

    [Test]
    public void TheModelDeclaresItsOperatorSetAndParsesBack()
    {
        manual_seed(4);
        using var pyramid = new FeaturePyramid(InChannels, Channels);
        byte[] bytes = Export(pyramid).ToByteArray();

        var parsed = ModelProto.Parser.ParseFrom(bytes);

        Assert.That(parsed.IrVersion, Is.EqualTo(8));
        Assert.That(parsed.OpsetImport.Select(o => (o.Domain, o.Version)), Is.EqualTo(new[] { ("", 17L) }));
        Assert.That(parsed.Graph.Input.Select(i => i.Name), Is.EqualTo(new[] { "c2", "c3", "c4", "c5" }));
        Assert.That(parsed.Graph.Output.Select(o => o.Name), Is.EqualTo(new[] { "p2", "p3", "p4", "p5", "p6" }));
        // Batch norm is folded: convs and their weights only, one weight and one bias per conv.
        Assert.That(parsed.Graph.Node.Count(n => n.OpType == "BatchNormalization"), Is.Zero);
        Assert.That(parsed.Graph.Node.Count(n => n.OpType == "Conv"), Is.EqualTo(8));
        Assert.That(parsed.Graph.Initializer, Has.Count.EqualTo(16));
    }

    [Test]
    public void ANameAskedForTwiceGetsASuffixAndAnInputNameTwiceIsRefused()
    {
        var graph = new OnnxGraphBuilder("names");
        string x = graph.Input("x", TensorProto.Types.DataType.Float, 1);
        string first = graph.Node("Relu", "act", [x]);
        string second = graph.Node("Relu", "act", [first]);

        Assert.That((first, second), Is.EqualTo(("act", "act_1")));
        Assert.That(() => graph.Input("act", TensorProto.Types.DataType.Float, 1), Throws.ArgumentException.With.Message.Contains("'act'"));
        Assert.That(() => graph.Node("Relu", "bad", [x], ("alpha", new object())), Throws.ArgumentException.With.Message.Contains("'alpha'"));
    }

    private static ModelProto Export(FeaturePyramid pyramid)
    {
        var graph = new OnnxGraphBuilder("feature_pyramid");
        var inputs = InChannels.Select((c, i) => graph.Input($"c{i + 2}", TensorProto.Types.DataType.Float, "n", c, $"h{i + 2}", $"w{i + 2}")).ToArray();
        var levels = pyramid.Export(graph, inputs);
        for (int i = 0; i < levels.Length; i++)
            graph.Output(levels[i], $"p{i + 2}", TensorProto.Types.DataType.Float, "n", Channels, $"ph{i + 2}", $"pw{i + 2}");
        return graph.Build();
    }
}
