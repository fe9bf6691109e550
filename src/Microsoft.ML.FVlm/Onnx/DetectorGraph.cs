using System.Globalization;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Vlm;
using DataType = Microsoft.ML.FVlm.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.FVlm.Onnx;

/// <summary>
/// The fitted detector's whole inference for one image as one ONNX graph (docs/deploy.md has the contract): the
/// preprocessing the VLM's manifest prescribes, the frozen image tower (the VLM folder's own graph, at every region
/// scale), the head, the VLM's region scores, the setting's ranking, and the mask head on the kept boxes. The
/// vocabulary is an input: its text embeddings and the VLM's weight of each class.
/// </summary>
internal static class DetectorGraph
{
    /// <summary>uint8 [height, width, 3]: the image, RGB.</summary>
    public const string Image = "image";

    /// <summary>float32 [classes, D]: the vocabulary's prompt-ensembled, unit-length text embeddings.</summary>
    public const string TextEmbeddings = "text_embeddings";

    /// <summary>float32 [classes]: the VLM's weight in the fusion per class (alpha for a base class, beta for a novel one).</summary>
    public const string VlmWeights = "vlm_weights";

    /// <summary>float32 [1], optional (default: the settings'; an input of the library's own graph only): a (box, class) pair scoring at most this is dropped before NMS.</summary>
    public const string ScoreThreshold = "score_threshold";

    /// <summary>float32 [1], optional (default: the settings'; an input of the library's own graph only): the per-class NMS IoU threshold.</summary>
    public const string NmsThreshold = "nms_threshold";

    /// <summary>int64 [1], optional (default: the settings'; an input of the library's own graph only): the most detections kept.</summary>
    public const string MaxDetections = "max_detections";

    /// <summary>float32 [M, 4]: x0 y0 x1 y1 in the image's pixels, best detection first.</summary>
    public const string Boxes = "boxes";

    /// <summary>float32 [M]: the setting's score of each detection.</summary>
    public const string Scores = "scores";

    /// <summary>int64 [M]: the class of each detection, a row of <see cref="TextEmbeddings"/>.</summary>
    public const string Labels = "labels";

    /// <summary>float32 [M, 28, 28]: mask probabilities in each box (when the settings predict masks).</summary>
    public const string Masks = "masks";

    /// <summary>float32 [M]: the detector's probability of each detection's class.</summary>
    public const string DetectionScores = "detection_scores";

    /// <summary>float32 [M]: the VLM's probability of each detection's class.</summary>
    public const string VlmScores = "vlm_scores";

    /// <summary>float32 scalar: the highest score of any (box, class) pair, kept or not; -1 when the image has no proposals.</summary>
    public const string HighestScore = "highest_score";

    /// <summary>Builds the graph of the fitted detector under <paramref name="settings"/>.</summary>
    /// <param name="vlm">The frozen VLM (its folder's graphs are included).</param>
    /// <param name="head">The trained head's graphs.</param>
    /// <param name="imageSize">The longest side on the encoder's canvas.</param>
    /// <param name="settings">
    /// The score source, fusion, region scales and whether masks are predicted (the graph's structure), and the
    /// thresholds and number of detections (the defaults of <see cref="ScoreThreshold"/>, <see cref="NmsThreshold"/>
    /// and <see cref="MaxDetections"/>, or constants).
    /// </param>
    /// <param name="limitsAsInputs">
    /// Whether the thresholds and the number of detections are inputs with defaults (the library's own graph, which one
    /// session serves under any thresholds) or constants (the exported graph: ONNX Runtime warns on loading a graph
    /// whose initializers are inputs, and engines such as ML.NET's ApplyOnnxModel would have to feed them).
    /// </param>
    public static ModelProto Build(FrozenVlm vlm, HeadGraphs head, int imageSize, InferenceSettings settings, bool limitsAsInputs = false) =>
        Build(vlm, head, imageSize, [settings], limitsAsInputs);

    /// <summary>
    /// Builds one graph that ranks the detections under each of <paramref name="rankings"/> from one forward pass (the
    /// detection-only, VLM-only and fused rankings of an evaluation): the outputs of ranking 0 have the contract's names,
    /// those of ranking k &gt; 0 the names with <c>_k</c> appended (<see cref="OutputName"/>). The rankings must embed
    /// regions at the same scales; the VLM scores each set of boxes some ranking asks for once.
    /// </summary>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="head">The trained head's graphs.</param>
    /// <param name="imageSize">The longest side on the encoder's canvas.</param>
    /// <param name="rankings">One or more settings.</param>
    /// <param name="limitsAsInputs">As for one ranking; with several, the limits are constants.</param>
    public static ModelProto Build(FrozenVlm vlm, HeadGraphs head, int imageSize, IReadOnlyList<InferenceSettings> rankings, bool limitsAsInputs = false) =>
        Build(vlm, head, imageSize, rankings, limitsAsInputs, regionsOutside: false).Detect;

    /// <summary>
    /// The graph of <see cref="Build(FrozenVlm, HeadGraphs, int, IReadOnlyList{InferenceSettings}, bool)"/>, or, with
    /// <paramref name="regionsOutside"/>, the same inference as two graphs with the VLM's region embeddings computed
    /// between them (<see cref="RegionEmbedder"/>): ONNX's <c>RoiAlign</c> pools one channel at a time, which on a
    /// projected map of thousands of channels takes longer than the rest of the graph. <c>Detect</c> then ends with
    /// <see cref="RegionMap"/> (per scale, the projected region map, channels last), <see cref="RegionBoxes"/> (per set of
    /// boxes the VLM scores) and the values the second graph reads (<see cref="Carried"/>); <c>Rank</c> reads those, the
    /// vocabulary and <see cref="RegionEmbeddings"/> (per set of boxes, their unit embeddings), and has the outputs of the
    /// one graph.
    /// </summary>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="head">The trained head's graphs.</param>
    /// <param name="imageSize">The longest side on the encoder's canvas.</param>
    /// <param name="rankings">One or more settings.</param>
    /// <param name="limitsAsInputs">Whether the limits are inputs with defaults (one ranking only).</param>
    /// <param name="regionsOutside">Whether to split the graph at the region embeddings (a VLM with a region projector only).</param>
    internal static (ModelProto Detect, ModelProto? Rank) Build(FrozenVlm vlm, HeadGraphs head, int imageSize, IReadOnlyList<InferenceSettings> rankings,
        bool limitsAsInputs, bool regionsOutside)
    {
        ArgumentNullException.ThrowIfNull(vlm);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(rankings);
        if (rankings.Count == 0) throw new ArgumentException("At least one ranking is needed.", nameof(rankings));
        var regionScaling = rankings[0].RegionScaling;
        if (rankings.Any(r => !r.RegionScaling.Equals(regionScaling)))
            throw new ArgumentException("Rankings of one graph must embed regions at the same scales (RegionScaling).", nameof(rankings));
        if (limitsAsInputs && rankings.Count > 1)
            throw new ArgumentException("The limits are inputs of a graph of one ranking only.", nameof(limitsAsInputs));
        var manifest = vlm.Manifest;
        if (regionsOutside && manifest.RegionProjector is null)
            throw new ArgumentException($"VLM '{manifest.Name}' has no region projector: its region embeddings stay in the graph.", nameof(regionsOutside));
        var models = vlm.ReadGraphModels();
        var graph = new OnnxGraphBuilder("fvlm_detector");
        // The ranking's part: the same graph, or the second one.
        var rank = regionsOutside ? new OnnxGraphBuilder("fvlm_detector_ranking") : graph;
        string image = graph.Input(Image, DataType.Uint8, "height", "width", 3);
        string text = graph.Input(TextEmbeddings, DataType.Float, "classes", manifest.EmbeddingDim);
        string rankText = regionsOutside ? rank.Input(TextEmbeddings, DataType.Float, "classes", manifest.EmbeddingDim) : text;
        string vlmWeights = rank.Input(VlmWeights, DataType.Float, "classes");
        var first = rankings[0];
        (string, string, string)? limits = !limitsAsInputs ? null
            : (rank.Input(ScoreThreshold, DataType.Float, new[] { (float)first.ScoreThreshold }),
               rank.Input(NmsThreshold, DataType.Float, new[] { (float)first.NmsThreshold }), rank.Input(MaxDetections, DataType.Int64, new[] { (long)first.MaxDetections }));
        // A value of the first part that the ranking reads: an output of the first graph and an input of the second.
        string Carry(string value, string name) => !regionsOutside ? value
            : rank.InputOfAnyShape(graph.OutputOfAnyShape(value, Carried(name), DataType.Float), DataType.Float);

        var (canvas, resizedSize, scale) = vlm.Preprocessor.Export(graph, image, imageSize);
        var features = vlm.ExportEncodeImages(graph, models, canvas, "vlm.image");
        var headInputs = features.Select((f, i) => (HeadGraphs.Feature(i), f)).ToDictionary();
        headInputs[HeadGraphs.TextEmbeddings] = text;
        headInputs[HeadGraphs.ImageSize] = resizedSize;
        var headOutputs = graph.Include(head.Head, "head", headInputs);
        string proposals = headOutputs[HeadGraphs.Proposals], refined = headOutputs[HeadGraphs.Boxes];
        var levels = Enumerable.Range(0, HeadGraphs.LevelCount).Select(i => headOutputs[HeadGraphs.Level(i)]).ToArray();
        int regionIndex = Array.FindIndex(manifest.ImageEncoder.FeatureLevels, l => l.Name == manifest.RegionPooler.RegionLevel);
        var maps = vlm.ExportRegionMaps(graph, models, canvas, features[regionIndex], regionScaling);
        // The VLM's probabilities for each set of boxes some ranking asks it to score.
        var scored = rankings.Select(r => r.Fusion.VlmBoxes).Distinct().ToArray();
        Dictionary<VlmScoredBoxes, string> vlmProbabilities;
        if (!regionsOutside)
        {
            vlmProbabilities = scored.ToDictionary(b => b,
                b => VlmRegionScorer.Export(graph, vlm, models, maps, regionScaling, b == VlmScoredBoxes.Proposals ? proposals : refined, text));
        }
        else
        {
            for (int m = 0; m < maps.Length; m++)
                graph.Output(graph.Node("Transpose", $"vlm.region_map{m}.channels_last", [maps[m]], ("perm", new long[] { 0, 2, 3, 1 })), RegionMap(m), DataType.Float,
                    1, $"map{m}_h", $"map{m}_w", manifest.RegionProjector!.Channels);
            foreach (var b in scored)
                graph.Output(b == VlmScoredBoxes.Proposals ? proposals : refined, RegionBoxes(b), DataType.Float, "proposals", 4);
            vlmProbabilities = scored.ToDictionary(b => b,
                b => VlmRegionScorer.ExportScores(rank, vlm, rank.Input(RegionEmbeddings(b), DataType.Float, "proposals", manifest.EmbeddingDim), rankText));
        }
        string probabilities = Carry(headOutputs[HeadGraphs.Probabilities], HeadGraphs.Probabilities);
        string objectness = Carry(headOutputs[HeadGraphs.Objectness], HeadGraphs.Objectness);
        string refinedBoxes = Carry(refined, HeadGraphs.Boxes);
        string canvasScale = Carry(scale, "scale");
        // In the image's pixels, clipped to it (ImageGeometry.OriginalBox).
        string shape = graph.Node("Cast", "kept.image_shape", [graph.Node("Shape", "kept.shape", [image], ("end", 2L))], ("to", (long)DataType.Float));
        string extent = Carry(graph.Node("Gather", "kept.extent", [shape, graph.Int64s("kept.extent_axes", 1, 0, 1, 0)], ("axis", 0L)), "extent");
        bool masks = rankings.Any(r => r.PredictMasks);
        var maskLevels = !masks ? [] : Enumerable.Range(0, 4).Select(i => Carry(levels[i], HeadGraphs.Level(i))).ToArray();
        string? maskCanvas = masks && head.MasksUsePixels ? Carry(canvas, HeadGraphs.Canvas) : null;

        for (int r = 0; r < rankings.Count; r++)
        {
            var settings = rankings[r];
            var kept = DetectionPostProcessor.ExportSelect(rank, settings, probabilities, vlmProbabilities[settings.Fusion.VlmBoxes], objectness, vlmWeights, refinedBoxes, limits);
            string canvasBoxes = rank.Node("Gather", "kept.canvas_boxes", [refinedBoxes, kept.Proposals], ("axis", 0L));
            string boxes = rank.Node("Min", "kept.boxes", [rank.Node("Max", "kept.above_zero", [rank.Node("Div", "kept.unscaled", [canvasBoxes, canvasScale]), rank.Weight("kept.zero", [0f])]), extent]);
            rank.Output(boxes, OutputName(Boxes, r), DataType.Float, "detections", 4);
            rank.Output(kept.Scores, OutputName(Scores, r), DataType.Float, "detections");
            rank.Output(kept.Classes, OutputName(Labels, r), DataType.Int64, "detections");
            if (settings.PredictMasks)
            {
                var maskInputs = Enumerable.Range(0, 4).ToDictionary(HeadGraphs.Level, i => maskLevels[i]);
                maskInputs[HeadGraphs.Boxes] = canvasBoxes;
                if (maskCanvas is not null) maskInputs[HeadGraphs.Canvas] = maskCanvas;
                string logits = rank.Include(head.Masks, "mask_head", maskInputs)[HeadGraphs.MaskLogits];
                rank.Output(rank.Node("Sigmoid", "kept.mask_probabilities", [logits]), OutputName(Masks, r), DataType.Float, "detections", RoiHeads.MaskSize, RoiHeads.MaskSize);
            }
            rank.Output(kept.DetectionScores, OutputName(DetectionScores, r), DataType.Float, "detections");
            rank.Output(kept.VlmScores, OutputName(VlmScores, r), DataType.Float, "detections");
            rank.Output(kept.HighestScore, OutputName(HighestScore, r), DataType.Float);
        }
        var metadata = Metadata(vlm, imageSize, first);
        return regionsOutside ? (graph.Build(metadata), rank.Build(metadata)) : (graph.Build(metadata), null);
    }

    /// <summary>Output of the first of two graphs: the projected region map at scale <paramref name="scale"/> (index in the region scales), [1, h, w, P].</summary>
    public static string RegionMap(int scale) => $"region_map_{scale}";

    /// <summary>Output of the first of two graphs: the boxes [R, 4] (canvas pixels at scale 1) whose region embeddings the VLM scores.</summary>
    public static string RegionBoxes(VlmScoredBoxes boxes) => $"region_boxes_{boxes.ToString().ToLowerInvariant()}";

    /// <summary>Input of the second of two graphs: the unit region embeddings [R, D] of <see cref="RegionBoxes"/>.</summary>
    public static string RegionEmbeddings(VlmScoredBoxes boxes) => $"region_embeddings_{boxes.ToString().ToLowerInvariant()}";

    /// <summary>A value the first of two graphs hands the second (an output of one, an input of the other).</summary>
    public static string Carried(string name) => $"carried.{name}";

    /// <summary>The name of output <paramref name="output"/> of ranking <paramref name="ranking"/>: the contract's name for ranking 0, <c>name_k</c> for ranking k.</summary>
    public static string OutputName(string output, int ranking) => ranking == 0 ? output : $"{output}_{ranking}";

    /// <summary>The graph's <see cref="TextEmbeddings"/> for <paramref name="names"/>: prompt-ensembled unit text embeddings [K, D].</summary>
    public static (float[] Values, long[] Shape) TextEmbeddingsOf(FrozenVlm vlm, IReadOnlyList<string> names) =>
        (vlm.TextEmbeddings.GetValues(names), [names.Count, vlm.Manifest.EmbeddingDim]);

    /// <summary>The graph's <see cref="VlmWeights"/>: per class, the novel weight (beta) for a novel one, the base weight (alpha) otherwise.</summary>
    public static float[] VlmWeightsOf(Vocabulary vocabulary, InferenceSettings settings) =>
        vocabulary.IsNovel.Select(novel => (float)(novel ? settings.NovelVlmWeight : settings.BaseVlmWeight)).ToArray();

    /// <summary>What the graph was built with, as metadata properties a deployment can read.</summary>
    private static Dictionary<string, string> Metadata(FrozenVlm vlm, int imageSize, InferenceSettings settings)
    {
        string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["fvlm.vlm"] = vlm.Manifest.Name,
            ["fvlm.embedding_dim"] = vlm.Manifest.EmbeddingDim.ToString(CultureInfo.InvariantCulture),
            ["fvlm.image_size"] = imageSize.ToString(CultureInfo.InvariantCulture),
            ["fvlm.score_source"] = settings.ScoreSource.ToString(),
            ["fvlm.fusion"] = settings.Fusion.Name,
            ["fvlm.base_vlm_weight"] = Number(settings.BaseVlmWeight),
            ["fvlm.novel_vlm_weight"] = Number(settings.NovelVlmWeight),
            ["fvlm.score_threshold"] = Number(settings.ScoreThreshold),
            ["fvlm.nms_threshold"] = Number(settings.NmsThreshold),
            ["fvlm.max_detections"] = settings.MaxDetections.ToString(CultureInfo.InvariantCulture),
            ["fvlm.region_scaling"] = settings.RegionScaling.ToString(),
        };
    }
}
