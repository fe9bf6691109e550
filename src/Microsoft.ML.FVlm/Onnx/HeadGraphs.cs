using Google.Protobuf;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Vlm;
using DataType = Microsoft.ML.FVlm.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.FVlm.Onnx;

/// <summary>
/// The trained head as two ONNX models, all the whole inference graph (<see cref="DetectorGraph"/>) needs from the head:
/// <see cref="Head"/>, from the frozen tower's feature maps and the vocabulary's text embeddings to the proposals, their
/// objectness, refined boxes, class probabilities and the pyramid's levels; and <see cref="Masks"/>, from those levels
/// (and the canvas, for a pixel branch) and a set of boxes to mask logits. Exported once from the TorchSharp modules
/// (<see cref="Export"/>), saved in the model zip, and included into every graph built from them, so that building a
/// graph of any inference settings needs no TorchSharp.
/// </summary>
/// <param name="Head">Inputs <see cref="Feature"/>(i) [1, C_i, h_i, w_i], <see cref="TextEmbeddings"/> [K, D], <see cref="ImageSize"/> [2];
/// outputs <see cref="Proposals"/>, <see cref="Objectness"/>, <see cref="Boxes"/>, <see cref="Probabilities"/> and <see cref="Level"/>(i).</param>
/// <param name="Masks">Inputs <see cref="Level"/>(0..3), <see cref="Boxes"/> [R, 4] and, with a pixel branch, <see cref="Canvas"/>; output <see cref="MaskLogits"/>.</param>
internal sealed record HeadGraphs(ModelProto Head, ModelProto Masks)
{
    public const string TextEmbeddings = "text_embeddings";
    public const string ImageSize = "image_size";
    public const string Proposals = "proposals";
    public const string Objectness = "objectness";
    public const string Boxes = "boxes";
    public const string Probabilities = "probabilities";
    public const string Canvas = "canvas";
    public const string MaskLogits = "mask_logits";

    /// <summary>The pyramid's levels the head outputs (P2..P6); the mask head reads the first four.</summary>
    public const int LevelCount = 5;

    /// <summary>The head's input of feature level <paramref name="index"/> of the tower (C2..C5, fine to coarse).</summary>
    public static string Feature(int index) => $"feature_{index}";

    /// <summary>The head's output of pyramid level <paramref name="index"/> (P2..P6), an input of the mask head for the first four.</summary>
    public static string Level(int index) => $"level_{index}";

    /// <summary>Whether the mask head reads the canvas under each box (a pixel branch).</summary>
    public bool MasksUsePixels => Masks.Graph.Input.Any(i => i.Name == Canvas);

    /// <summary>The head's two models from its TorchSharp modules' weights (the inference path of each module, whatever the modules' mode).</summary>
    /// <param name="head">The trained head.</param>
    /// <param name="manifest">The VLM the head reads: its feature levels and embedding size.</param>
    public static HeadGraphs Export(DetectorHead head, VlmManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(head);
        var levels = manifest.ImageEncoder.FeatureLevels;
        var graph = new OnnxGraphBuilder("fvlm_head");
        var features = levels.Select((l, i) => graph.Input(Feature(i), DataType.Float, 1, l.Channels, $"h{i}", $"w{i}")).ToArray();
        string text = graph.Input(TextEmbeddings, DataType.Float, "classes", manifest.EmbeddingDim);
        string imageSize = graph.Input(ImageSize, DataType.Float, 2);
        var exported = head.Export(graph, features, text, imageSize);
        if (exported.Levels.Length != LevelCount)
            throw new InvalidOperationException($"The head's pyramid has {exported.Levels.Length} levels; the graphs expect {LevelCount}.");
        graph.Output(exported.Proposals, Proposals, DataType.Float, "proposals", 4);
        graph.Output(exported.Objectness, Objectness, DataType.Float, "proposals");
        graph.Output(exported.Boxes, Boxes, DataType.Float, "proposals", 4);
        graph.Output(exported.Probabilities, Probabilities, DataType.Float, "proposals", "classes_and_background");
        for (int i = 0; i < LevelCount; i++)
            graph.Output(exported.Levels[i], Level(i), DataType.Float, 1, "channels", $"p{i}_h", $"p{i}_w");

        var masks = new OnnxGraphBuilder("fvlm_mask_head");
        var maskLevels = Enumerable.Range(0, 4).Select(i => masks.Input(Level(i), DataType.Float, 1, "channels", $"p{i}_h", $"p{i}_w")).ToArray();
        string boxes = masks.Input(Boxes, DataType.Float, "boxes", 4);
        string? canvas = head.RoiHeads.MasksUsePixels ? masks.Input(Canvas, DataType.Float, 1, 3, "height", "width") : null;
        masks.Output(head.RoiHeads.ExportMasks(masks, maskLevels, boxes, canvas), MaskLogits, DataType.Float, "boxes", RoiHeads.MaskSize, RoiHeads.MaskSize);
        return new HeadGraphs(graph.Build(), masks.Build());
    }

    /// <summary>Writes both models: per model, its length (int64) and its ONNX bytes.</summary>
    public void Write(BinaryWriter writer)
    {
        foreach (var model in new[] { Head, Masks })
        {
            byte[] bytes = model.ToByteArray();
            writer.Write((long)bytes.Length);
            writer.Write(bytes);
        }
    }

    /// <summary>
    /// Reads what <see cref="Write"/> wrote, as untrusted input: each model must be one the detector's graph can include
    /// (<see cref="OnnxGraphBuilder.CheckIncludable"/>: default operators, no subgraph, nothing read from a file), with the
    /// inputs and outputs the graph binds it by and no other input. That the graphs hold the weights of <c>Head.bin</c> is
    /// not checked: the two are saved together, and each entry's SHA-256 is.
    /// </summary>
    /// <exception cref="InvalidDataException">A model is not an ONNX model, cannot be included, or has other inputs or outputs; <paramref name="source"/> names where it was read from.</exception>
    public static HeadGraphs Read(BinaryReader reader, VlmManifest manifest, string source)
    {
        // Fields this library does not know (sparse tensors, say) are dropped, not carried into a graph it builds.
        var parser = ModelProto.Parser.WithDiscardUnknownFields(true);
        ModelProto Next(string what)
        {
            long length = reader.ReadInt64();
            if (length < 0 || length > Math.Min(int.MaxValue, reader.BaseStream.Length - reader.BaseStream.Position))
                throw new InvalidDataException($"{source}: the {what} model's length ({length}) is not within the entry.");
            try
            {
                return parser.ParseFrom(reader.ReadBytes((int)length));
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"{source}: the {what} model is not an ONNX model: {e.Message}", e);
            }
        }
        var graphs = new HeadGraphs(Next("head"), Next("mask head"));
        Expect(graphs.Head, "head", source,
            [.. manifest.ImageEncoder.FeatureLevels.Select((_, i) => Feature(i)), TextEmbeddings, ImageSize], [],
            [Proposals, Objectness, Boxes, Probabilities, .. Enumerable.Range(0, LevelCount).Select(Level)]);
        Expect(graphs.Masks, "mask head", source, [.. Enumerable.Range(0, 4).Select(Level), Boxes], [Canvas], [MaskLogits]);
        return graphs;
    }

    /// <param name="model">The model read.</param>
    /// <param name="what">Which of the two, for messages.</param>
    /// <param name="source">Where it was read from, for messages.</param>
    /// <param name="inputs">The inputs it must have.</param>
    /// <param name="optional">The inputs it may have besides.</param>
    /// <param name="outputs">The outputs it must have.</param>
    private static void Expect(ModelProto model, string what, string source, string[] inputs, string[] optional, string[] outputs)
    {
        try
        {
            OnnxGraphBuilder.CheckIncludable(model);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: the {what} model cannot be part of the detector's graph: {e.Message}", e);
        }
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var actualInputs = graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n)).ToArray();
        var missingInputs = inputs.Except(actualInputs).ToArray();
        var otherInputs = actualInputs.Except(inputs).Except(optional).ToArray();
        var missingOutputs = outputs.Except(graph.Output.Select(o => o.Name)).ToArray();
        if (missingInputs.Length > 0 || missingOutputs.Length > 0 || otherInputs.Length > 0)
            throw new InvalidDataException($"{source}: the {what} model lacks the inputs [{string.Join(", ", missingInputs)}] and outputs [{string.Join(", ", missingOutputs)}] "
                + $"the detector's graph reads it by, or has other inputs [{string.Join(", ", otherInputs)}].");
    }
}
