using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>A VLM folder's own graph included in an exported graph: the frozen image tower, run inside it, computes what the VLM's session computes.</summary>
public class GraphInclusionTests
{
    [Test]
    public void TheIncludedImageTowerComputesWhatTheVlmsSessionComputes()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        var tower = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TinyModels.VlmFolder, vlm.Manifest.ImageEncoder.File)));
        var levels = vlm.Manifest.ImageEncoder.FeatureLevels;
        var graph = new OnnxGraphBuilder("with_tower");
        string pixels = graph.Input("pixels", TensorProto.Types.DataType.Float, 1, 3, "height", "width");
        var outputs = graph.Include(tower, "tower", new Dictionary<string, string> { [vlm.Manifest.ImageEncoder.Input] = pixels });
        // Something of this graph's own after the tower, so that the included values are read by other nodes too.
        foreach (var level in levels)
            graph.Output(graph.Node("Relu", $"after_{level.Name}", [outputs[level.Name]]), level.Name, TensorProto.Types.DataType.Float, 1, level.Channels, $"h_{level.Name}", $"w_{level.Name}");
        using var runner = new OnnxRunner(graph.Build());
        using var scope = NewDisposeScope();
        manual_seed(16);
        var canvas = randn(1, 3, 96, 64);

        var expected = vlm.EncodeImages(canvas);
        var actual = runner.Run([("pixels", canvas)], levels.Select(l => l.Name).ToArray());

        for (int i = 0; i < levels.Length; i++)
            OnnxRunner.AssertClose(actual[i], nn.functional.relu(expected[i]), 1e-5, $"tower level {levels[i].Name}");
    }

    [Test]
    public void AnUnboundInputOrAnotherOperatorSetIsRefusedNamingIt()
    {
        var tower = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TinyModels.VlmFolder, "image_encoder.onnx")));
        var graph = new OnnxGraphBuilder("refusals");

        Assert.That(() => graph.Include(tower, "tower", new Dictionary<string, string>()), Throws.ArgumentException.With.Message.Contains("'pixel_values'"));
        var newer = tower.Clone();
        newer.OpsetImport.Clear();
        newer.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        Assert.That(() => graph.Include(newer, "tower", new Dictionary<string, string> { ["pixel_values"] = "x" }), Throws.ArgumentException.With.Message.Contains("'' 21"));
    }
}
