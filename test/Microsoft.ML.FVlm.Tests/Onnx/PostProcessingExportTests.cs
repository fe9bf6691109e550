using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>
/// F-VLM's fusion and the per-class selection as an ONNX graph, with the VLM's weights as an input, against
/// DetectionPostProcessor.Select, under three fusion methods and the two single score sources.
/// </summary>
public class PostProcessingExportTests
{
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    private static IEnumerable<TestCaseData> Settings()
    {
        var settings = new InferenceSettings { ScoreThreshold = 0.05, NmsThreshold = 0.5, MaxDetections = 25 };
        yield return new TestCaseData(settings).SetArgDisplayNames("reference");
        yield return new TestCaseData(settings with { Fusion = FusionMethod.Unnormalised }).SetArgDisplayNames("unnormalised");
        yield return new TestCaseData(settings with { Fusion = FusionMethod.Reference with { ObjectnessWeight = 0.5 } }).SetArgDisplayNames("objectness 0.5");
        yield return new TestCaseData(settings with { ScoreSource = DetectionScoreSource.Detection }).SetArgDisplayNames("detection only");
        yield return new TestCaseData(settings with { ScoreSource = DetectionScoreSource.Vlm }).SetArgDisplayNames("VLM only");
    }

    [TestCaseSource(nameof(Settings))]
    public void TheGraphKeepsTheDetectionsTheSelectorKeeps(InferenceSettings settings)
    {
        manual_seed(15);
        bool[] isNovel = [false, true, false, true, true, false];
        var graph = new OnnxGraphBuilder("post_processing");
        var (proposals, classes, scores, detectionScores, vlmScores, _) = DetectionPostProcessor.ExportSelect(graph, settings,
            graph.Input("detection", Float, "r", 7), graph.Input("vlm", Float, "r", 6), graph.Input("objectness", Float, "r"),
            graph.Input("vlm_weights", Float, 6), graph.Input("boxes", Float, "r", 4));
        graph.Output(proposals, "proposals", TensorProto.Types.DataType.Int64, "m");
        graph.Output(classes, "classes", TensorProto.Types.DataType.Int64, "m");
        graph.Output(scores, "scores", Float, "m");
        graph.Output(detectionScores, "detection_scores", Float, "m");
        graph.Output(vlmScores, "vlm_scores", Float, "m");
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(graph.Build()));
        using var scope = NewDisposeScope();
        const int regions = 120;
        var detection = (randn(regions, 7) * 2).softmax(1);
        var vlm = (randn(regions, 6) * 2).softmax(1);
        var objectness = rand(regions);
        var corners = rand(regions, 2) * 100;
        var boxes = cat([corners, corners + rand(regions, 2) * 60 + 5], 1);
        var weights = isNovel.Select(n => (float)(n ? settings.NovelVlmWeight : settings.BaseVlmWeight)).ToArray();

        var expected = DetectionPostProcessor.Select(settings, detection, vlm, objectness, isNovel, boxes.contiguous().data<float>().ToArray());
        var inputs = new[] { detection, vlm, objectness, tensor(weights), boxes }.Select(t => OrtValue.CreateTensorValueFromMemory(t.contiguous().data<float>().ToArray(), t.shape)).ToArray();
        try
        {
            using var outputs = session.Run(new RunOptions(), ["detection", "vlm", "objectness", "vlm_weights", "boxes"], inputs, ["proposals", "classes", "scores", "detection_scores", "vlm_scores"]);

            Assert.That(expected.Proposals, Has.Length.EqualTo(settings.MaxDetections), "the premise: more candidates than detections kept");
            Assert.That(outputs[0].GetTensorDataAsSpan<long>().ToArray(), Is.EqualTo(expected.Proposals.Select(p => (long)p)), "proposal of each detection");
            Assert.That(outputs[1].GetTensorDataAsSpan<long>().ToArray(), Is.EqualTo(expected.Classes.Select(c => (long)c)), "class of each detection");
            Assert.That(outputs[2].GetTensorDataAsSpan<float>().ToArray(), Is.EqualTo(expected.Scores).Within(1e-6), "score of each detection");
            Assert.That(outputs[3].GetTensorDataAsSpan<float>().ToArray(), Is.EqualTo(expected.DetectionScores), "detector's probability of each detection");
            Assert.That(outputs[4].GetTensorDataAsSpan<float>().ToArray(), Is.EqualTo(expected.VlmScores), "VLM's probability of each detection");
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }
}
