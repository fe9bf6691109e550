using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>ONNX Runtime's RoiAlign (average, half-pixel) against the library's RoIAlign (torchvision's aligned=True), which the heads pool with.</summary>
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
}
