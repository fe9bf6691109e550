using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>ONNX Runtime's RoiAlign (average, half-pixel) against the library's RoIAlign (torchvision's aligned=True), alone and over the pyramid's levels.</summary>
public class RoiAlignExportTests
{
    [TestCase(7, 0.25)]
    [TestCase(14, 0.125)]
    [TestCase(28, 1.0)]
    public void OnnxRoiAlignPoolsWhatTheLibrarysRoiAlignPools(int outputSize, double spatialScale)
    {
        manual_seed(9);
        var graph = new OnnxGraphBuilder("roi_align");
        string pooled = graph.RoiAlign("pool", graph.Input("features", TensorProto.Types.DataType.Float, 1, 5, "h", "w"),
            graph.Input("boxes", TensorProto.Types.DataType.Float, "r", 4), graph.Input("batch", TensorProto.Types.DataType.Int64, "r"), outputSize, spatialScale, 2);
        graph.Output(pooled, "pooled", TensorProto.Types.DataType.Float, "r", 5, outputSize, outputSize);
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(graph.Build()));
        using var scope = NewDisposeScope();
        var features = randn(1, 5, 20, 24);
        double side = 1 / spatialScale;
        // Boxes inside the map, across its edges, smaller than a cell and degenerate (a line).
        var boxes = tensor(new float[]
        {
            2, 3, 60, 40,
            -10, -5, 30, 25,
            50, 50, 24 * (float)side + 8, 20 * (float)side + 8,
            10, 10, 10.4f, 10.3f,
            5, 5, 5, 40,
        }, [5, 4]) * (float)(side / 4);

        var expected = RoiAlign.Forward(features, boxes, outputSize, spatialScale, 2);
        using var featureValue = OrtValue.CreateTensorValueFromMemory(features.contiguous().data<float>().ToArray(), features.shape);
        using var boxValue = OrtValue.CreateTensorValueFromMemory(boxes.contiguous().data<float>().ToArray(), boxes.shape);
        using var batchValue = OrtValue.CreateTensorValueFromMemory(new long[boxes.shape[0]], [boxes.shape[0]]);
        using var outputs = session.Run(new RunOptions(), ["features", "boxes", "batch"], [featureValue, boxValue, batchValue], ["pooled"]);

        OnnxRunner.AssertClose((outputs[0].GetTensorTypeAndShape().Shape, outputs[0].GetTensorDataAsSpan<float>().ToArray()), expected, 1e-5,
            $"{outputSize}x{outputSize} at scale {spatialScale}");
    }

    [Test]
    public void OnnxMultiLevelPoolingTakesEachBoxFromTheLevelTheLibraryTakesItFrom()
    {
        manual_seed(10);
        int[] strides = [4, 8, 16, 32];
        var pooler = new MultiScaleRoiAlign(strides, 7, canonicalSize: 64);
        var graph = new OnnxGraphBuilder("multi_scale_roi_align");
        var levels = strides.Select(s => graph.Input($"p{s}", TensorProto.Types.DataType.Float, "n", 6, $"h{s}", $"w{s}")).ToArray();
        string pooled = pooler.Export(graph, "pool", levels, graph.Input("boxes", TensorProto.Types.DataType.Float, "r", 4),
            graph.Input("batch", TensorProto.Types.DataType.Int64, "r"));
        graph.Output(pooled, "pooled", TensorProto.Types.DataType.Float, "r", 6, 7, 7);
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(graph.Build()));
        using var scope = NewDisposeScope();
        var maps = strides.Select(s => randn(2, 6, 256 / s, 192 / s)).ToArray();
        // Sides from 4 to 180 px: every level, below the finest's range and above the coarsest's, in both images.
        var sides = tensor(new float[] { 4, 12, 20, 31, 32, 33, 48, 64, 90, 128, 180, 16 });
        var corners = rand(sides.shape[0], 2) * 60;
        var boxes = cat([corners, corners + stack([sides, sides * 0.75f], 1)], 1);
        long[] images = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1];

        var expected = cat(Enumerable.Range(0, 2).Select(image =>
        {
            var mine = tensor(images.Select((b, i) => (b, i)).Where(p => p.b == image).Select(p => (long)p.i).ToArray());
            return pooler.Forward(maps.Select(m => m[image..(image + 1)]).ToArray(), boxes[mine]);
        }).ToArray(), 0);
        var order = images.Select((b, i) => (b, i)).OrderBy(p => p.b).ThenBy(p => p.i).Select(p => p.i).ToArray();
        var inputs = maps.Select(m => OrtValue.CreateTensorValueFromMemory(m.contiguous().data<float>().ToArray(), m.shape)).ToList();
        inputs.Add(OrtValue.CreateTensorValueFromMemory(boxes.contiguous().data<float>().ToArray(), boxes.shape));
        inputs.Add(OrtValue.CreateTensorValueFromMemory(images, [images.Length]));
        try
        {
            using var outputs = session.Run(new RunOptions(), [.. strides.Select(s => $"p{s}"), "boxes", "batch"], inputs, ["pooled"]);
            var actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            var byImage = tensor(actual, outputs[0].GetTensorTypeAndShape().Shape)[tensor(order.Select(i => (long)i).ToArray())];

            Assert.That(pooler.AssignLevels(boxes).unique().output.shape[0], Is.EqualTo(4), "the premise: the boxes use every level");
            OnnxRunner.AssertClose((byImage.shape, byImage.contiguous().data<float>().ToArray()), expected, 1e-5, "pooled boxes");
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }
}
