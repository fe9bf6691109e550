using Google.Protobuf;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Inference;
using Microsoft.ML.FVlm.Tests.Persistence;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>
/// The fitted detector's whole inference as one ONNX graph, run by ONNX Runtime alone from the image's bytes, the
/// vocabulary's text embeddings and the VLM's weights: the shipped detector's graph detects what the record of the
/// shipped detector says (ShippedDetectorGoldenTests' rule: 99.5 % of the detections matched one to one, boxes within
/// 0.01 px, scores within 1e-4 relative, mask IoU 0.99), masks pasted in C#. The first 10 scenes by default;
/// <c>FVLM_GOLDEN_SCENES=100</c> checks all.
/// </summary>
public class DetectorGraphTests
{
    [Test]
    public void TheShippedDetectorsGraphDetectsWhatTheRecordSays()
    {
        var golden = ShippedDetectorGoldenTests.ReadGolden();
        int scenes = int.TryParse(Environment.GetEnvironmentVariable("FVLM_GOLDEN_SCENES"), out int n) ? Math.Clamp(n, 1, golden.Length) : 10;
        var ml = new MLContext(seed: 0);
        using var transformer = (FVlmTransformer)ml.Model.Load(ShapesDetector.ModelFile, out _);
        var model = transformer.Model;
        var settings = transformer.InferenceSettings;
        Assert.That(settings.RegionScaling.IsSingle, Is.False, "the premise: the shipped detector embeds regions at several scales");
        Assert.That(model.HeadGraphs.MasksUsePixels, Is.True, "the premise: its mask head reads the canvas");
        using var session = new InferenceSession(DetectorGraph.Build(model.Vlm, model.HeadGraphs, model.ImageSize, settings).ToByteArray());
        using var rendered = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = scenes, Seed = 0, ImageSize = ShippedDetectorGoldenTests.ImageSide }, "graph");
        var vocabulary = transformer.Vocabulary;
        var names = vocabulary.Names;
        var text = TextEmbeddings(model.Vlm, names);
        var weights = vocabulary.IsNovel.Select(n => (float)(n ? settings.NovelVlmWeight : settings.BaseVlmWeight)).ToArray();

        var paths = rendered.ImagePaths();
        for (int i = 0; i < scenes; i++)
        {
            using var image = MLImage.CreateFromFile(paths[i]);
            var detected = Run(session, image, text, weights, names);
            var (matched, worstIou) = ShippedDetectorGoldenTests.Match(golden[i], detected);
            TestContext.Out.WriteLine($"scene {i}: {matched} of {golden[i].Labels.Length} recorded detections matched, {detected.Labels.Length} detected, lowest mask IoU {worstIou:F4}");
            Assert.That(matched, Is.GreaterThanOrEqualTo(ShippedDetectorGoldenTests.MatchedFraction * golden[i].Labels.Length),
                $"scene {i}: {matched} of {golden[i].Labels.Length} recorded detections matched ({detected.Labels.Length} detected)");
            Assert.That(worstIou, Is.GreaterThanOrEqualTo(ShippedDetectorGoldenTests.MaskIou), $"scene {i}: the lowest mask IoU of a matched pair");
        }
    }

    /// <summary>
    /// The same rule on CLIP RN50's architecture (random weights, <c>eng/clip/make_parity_fixture.sh artifacts</c>) at
    /// 1,024 px, with a seeded untrained head of the default architecture at one region scale: the graph path
    /// (<see cref="GraphDetector"/>) against the TorchSharp path (<see cref="OpenVocabularyDetector.Detect(IReadOnlyList{MLImage}, Vocabulary, IReadOnlyList{InferenceSettings}, InferenceTimings?)"/>)
    /// on two Shapes scenes. Skipped without the fixture, except under CI where it fails.
    /// </summary>
    [Test]
    public void OnClipRn50At1024PixelsTheGraphDetectsWhatTheTorchSharpPathDetects()
    {
        string folder = Path.Combine(RepositoryRoot.Path, "artifacts", "clip-rn50-random");
        if (!File.Exists(Path.Combine(folder, "manifest.json")))
        {
            string message = $"RN50 fixture missing at '{folder}': run eng/clip/make_parity_fixture.sh artifacts";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message);
            Assert.Ignore(message);
        }
        const int side = 1024;
        using var vlm = Microsoft.ML.FVlm.Vlm.FrozenVlm.Load(folder);
        TorchSharp.torch.manual_seed(22);
        using var head = DetectorFactory.Create(vlm.Manifest, DetectorArchitecture.Default);
        var detector = new OpenVocabularyDetector(vlm, head, side);
        using var graph = new GraphDetector(vlm, HeadGraphs.Export(head, vlm.Manifest), side);
        var vocabulary = new Vocabulary(["circle", "square", "hexagon", "gear"], [false, false, true, true]);
        var settings = new InferenceSettings();
        using var rendered = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 2, Seed = 5, ImageSize = side }, "rn50-graph");
        var images = rendered.ImagePaths().Select(MLImage.CreateFromFile).ToArray();
        try
        {
            var expected = detector.Detect(images, vocabulary, [settings])[0];
            var actual = graph.Detect(images, vocabulary, settings);
            for (int i = 0; i < images.Length; i++)
            {
                Assert.That(expected[i].Count, Is.GreaterThan(10), $"the premise: the untrained head detects in scene {i}");
                var (matched, worstIou) = ShippedDetectorGoldenTests.Match(AsRecord(expected[i], vocabulary), AsRecord(actual[i], vocabulary), side, side);
                TestContext.Out.WriteLine($"scene {i}: {matched} of {expected[i].Count} matched, {actual[i].Count} detected by the graph, lowest mask IoU {worstIou:F4}");
                Assert.That(matched, Is.GreaterThanOrEqualTo(ShippedDetectorGoldenTests.MatchedFraction * expected[i].Count), $"scene {i}: detections matched");
                Assert.That(worstIou, Is.GreaterThanOrEqualTo(ShippedDetectorGoldenTests.MaskIou), $"scene {i}: the lowest mask IoU of a matched pair");
            }
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    private static ModelLoadProbe.Detections AsRecord(ImageDetections detections, Vocabulary vocabulary) =>
        new(detections.Classes.Select(c => vocabulary.Names[c]).ToArray(), detections.Scores, detections.Boxes, detections.Masks!.Select(CocoMask.ToCompressedString).ToArray());

    /// <summary>The vocabulary's unit text embeddings [K, D] as the detector computes them.</summary>
    private static (float[] Values, long[] Shape) TextEmbeddings(Microsoft.ML.FVlm.Vlm.FrozenVlm vlm, IReadOnlyList<string> names) =>
        DetectorGraph.TextEmbeddingsOf(vlm, names);

    /// <summary>The graph's detections of one image, masks pasted at the image's size and written as COCO compressed RLE.</summary>
    private static ModelLoadProbe.Detections Run(InferenceSession session, MLImage image, (float[] Values, long[] Shape) text, float[] weights, IReadOnlyList<string> names)
    {
        using var imageValue = OrtValue.CreateTensorValueFromMemory(GraphDetector.Rgb(image), [image.Height, image.Width, 3]);
        using var textValue = OrtValue.CreateTensorValueFromMemory(text.Values, text.Shape);
        using var weightsValue = OrtValue.CreateTensorValueFromMemory(weights, [weights.Length]);
        using var outputs = session.Run(new RunOptions(), [DetectorGraph.Image, DetectorGraph.TextEmbeddings, DetectorGraph.VlmWeights], [imageValue, textValue, weightsValue],
            [DetectorGraph.Boxes, DetectorGraph.Scores, DetectorGraph.Labels, DetectorGraph.Masks]);
        var boxes = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var scores = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        var labels = outputs[2].GetTensorDataAsSpan<long>().ToArray();
        var masks = outputs[3].GetTensorDataAsSpan<float>().ToArray();
        int plane = RoiHeads.MaskSize * RoiHeads.MaskSize;
        var buffer = new byte[image.Height * image.Width];
        var rle = Enumerable.Range(0, labels.Length).Select(d => CocoMask.ToCompressedString(MaskPaster.Paste(masks.AsSpan(d * plane, plane), RoiHeads.MaskSize,
            boxes.AsSpan(d * 4, 4), image.Height, image.Width, buffer))).ToArray();
        return new ModelLoadProbe.Detections(labels.Select(l => names[(int)l]).ToArray(), scores, boxes, rle);
    }
}
