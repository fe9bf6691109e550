using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Ops;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>The anchors and the box decoding as ONNX graphs, against AnchorGenerator and BoxCoder.</summary>
public class AnchorAndBoxCoderExportTests
{
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    [Test]
    public void TheGraphsAnchorsAreTheGeneratorsForAnyMapSize()
    {
        var generator = new AnchorGenerator([16, 32, 64, 128, 256], [0.5, 1, 2]);
        int[] strides = [4, 8, 16, 32, 64];
        var graph = new OnnxGraphBuilder("anchors");
        for (int level = 0; level < strides.Length; level++)
        {
            string map = graph.Input($"p{level}", Float, 1, 2, $"h{level}", $"w{level}");
            graph.Output(generator.Export(graph, $"anchors{level}", level, map, strides[level]), $"a{level}", Float, $"n{level}", 4);
        }
        using var runner = new OnnxRunner(graph.Build());

        foreach (var (height, width) in new[] { (5, 7), (1, 3) })
        {
            using var scope = NewDisposeScope();
            var maps = strides.Select((_, level) => zeros(1, 2, height + level, width)).ToArray();

            var actual = runner.Run(maps.Select((m, level) => ($"p{level}", m)).ToArray(), strides.Select((_, level) => $"a{level}").ToArray());

            for (int level = 0; level < strides.Length; level++)
                OnnxRunner.AssertClose(actual[level], generator.LevelAnchors(level, height + level, width, strides[level]), 0, $"level {level} of a {height + level} x {width} map");
        }
    }

    [TestCase(1, 1, 1, 1)]
    [TestCase(10, 10, 5, 5)]
    public void TheGraphDecodesAsTheBoxCoderIncludingClampedScales(double wx, double wy, double ww, double wh)
    {
        manual_seed(11);
        var coder = new BoxCoder(wx, wy, ww, wh);
        var graph = new OnnxGraphBuilder("decode");
        graph.Output(coder.ExportDecode(graph, "decode", graph.Input("deltas", Float, "r", 4), graph.Input("references", Float, "r", 4)), "boxes", Float, "r", 4);
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        var corners = rand(64, 2) * 300;
        var references = cat([corners, corners + rand(64, 2) * 200 + 1], 1);
        // Deltas up to 60 in width and height: beyond the scale clamp (log(1000 / 16) times the weight).
        var deltas = cat([randn(64, 2) * ww, randn(64, 2) * 20 * ww], 1);

        var actual = runner.Run([("deltas", deltas), ("references", references)], ["boxes"]);

        OnnxRunner.AssertClose(actual[0], coder.Decode(deltas, references), 1e-3, "decoded boxes (pixels)");
    }
}
