using Microsoft.ML.FVlm.Onnx;
using System.Diagnostics;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// From the second stage's predictions for one image to its detections: the frozen VLM's probabilities
/// (<see cref="VlmRegionScorer"/>) for the proposals (F-VLM's reference) or the refined boxes, F-VLM's fusion,
/// per-class NMS on the refined boxes, top-k, and the kept boxes' masks (predicted by the mask head, given as
/// <c>predictMasks</c>) pasted at the original resolution. It selects and pastes; the head classifies and refines
/// (<see cref="RoiHeads.Predict"/>).
/// </summary>
/// <remarks>
/// Several post-processing settings (fused, detection-only, VLM-only, other fusion methods) share one
/// scoring pass: the refined boxes and the probability tables depend on the proposals alone, and the
/// VLM scores each set of boxes the settings ask for once. Boxes and the mask head are
/// class-agnostic, so a mask depends only on its proposal: each kept proposal's mask is predicted and
/// pasted once, however many classes and settings keep it.
/// </remarks>
/// <param name="settings">One or more post-processing settings.</param>
/// <param name="isNovel">The vocabulary's novel flags (beta weighs the VLM for them, alpha for the others).</param>
/// <param name="timings">Adds the time of each stage, when given.</param>
internal sealed class DetectionPostProcessor(IReadOnlyList<InferenceSettings> settings, IReadOnlyList<bool> isNovel, InferenceTimings? timings = null)
{
    /// <param name="regions">The second stage's predictions for the image's proposals.</param>
    /// <param name="objectness">[P] the proposals' RPN objectness probabilities (for a fusion method with an objectness weight).</param>
    /// <param name="vlm">The VLM's probabilities for boxes of this image.</param>
    /// <param name="predictMasks">Mask logits [R, 28, 28] for boxes [R, 4] (canvas pixels) of this image.</param>
    /// <param name="geometry">Where the image lies on the canvas.</param>
    /// <returns>The image's detections under each setting.</returns>
    public ImageDetections[] Process(RegionPredictions regions, Tensor? objectness, VlmRegionScorer vlm, Func<Tensor, Tensor> predictMasks, ImageGeometry geometry)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (regions.Proposals.shape[0] == 0) return settings.Select(s => ImageDetections.Empty(s.PredictMasks)).ToArray();

        long start = Stopwatch.GetTimestamp();
        // The VLM's probabilities for each set of boxes some setting asks it to score.
        var vlmProbabilities = settings.Select(s => s.Fusion.VlmBoxes).Distinct().ToDictionary(b => b,
            b => vlm.Score(b == VlmScoredBoxes.Proposals ? regions.Proposals : regions.Boxes));
        float[] canvasBoxes = regions.Boxes.cpu().contiguous().data<float>().ToArray();
        timings?.Add(InferenceStage.VlmRegionScoring, start);

        start = Stopwatch.GetTimestamp();
        var selections = settings.Select(s => Select(s, regions.Probabilities, vlmProbabilities[s.Fusion.VlmBoxes], objectness, isNovel, canvasBoxes)).ToArray();
        timings?.Add(InferenceStage.PostProcessing, start);
        start = Stopwatch.GetTimestamp();
        var masks = PasteMasks(predictMasks, regions.Boxes.device, canvasBoxes, geometry,
            selections.Where((_, s) => settings[s].PredictMasks).SelectMany(k => k.Proposals).Distinct().ToArray());
        timings?.Add(InferenceStage.Masks, start);

        var results = new ImageDetections[settings.Count];
        for (int s = 0; s < settings.Count; s++)
        {
            var kept = selections[s];
            var originalBoxes = new float[kept.Proposals.Length * 4];
            for (int i = 0; i < kept.Proposals.Length; i++)
                geometry.OriginalBox(canvasBoxes.AsSpan(kept.Proposals[i] * 4, 4)).CopyTo(originalBoxes.AsSpan(i * 4, 4));
            results[s] = new ImageDetections(originalBoxes, kept.Classes, kept.Scores, kept.DetectionScores, kept.VlmScores,
                settings[s].PredictMasks ? kept.Proposals.Select(p => masks[p]).ToArray() : null)
            {
                HighestScoreBelowThreshold = kept.HighestScoreBelowThreshold,
            };
        }
        return results;
    }

    /// <summary>Ranks (proposal, class) pairs under one setting: threshold, per-class NMS on the refined boxes, top-k.</summary>
    internal static Selection Select(InferenceSettings settings, Tensor detection, Tensor vlm, Tensor? objectness, IReadOnlyList<bool> isNovel, float[] proposalBoxes)
    {
        using var scope = NewDisposeScope();
        var scores = settings.ScoreSource switch
        {
            DetectionScoreSource.Detection => detection[.., 1..],
            DetectionScoreSource.Vlm => vlm,
            _ => Fuse(settings, detection, vlm, objectness, isNovel),
        };
        // Candidates: every (proposal, class) above the threshold, sharing the proposal's refined box.
        var candidates = nonzero(scores > settings.ScoreThreshold);
        // Nothing passed: keep the best score that did not, to say why (computed only on this path).
        if (candidates.shape[0] == 0) return Selection.Empty with { HighestScoreBelowThreshold = scores.max().item<float>() };
        var proposalIndex = candidates[.., 0].contiguous();
        var classIndex = candidates[.., 1].contiguous();
        int[] candidateProposals = proposalIndex.cpu().to(ScalarType.Int32).data<int>().ToArray();
        int[] candidateClasses = classIndex.cpu().to(ScalarType.Int32).data<int>().ToArray();
        float[] candidateScores = scores[proposalIndex, classIndex].cpu().contiguous().data<float>().ToArray();
        var boxes = new float[candidateProposals.Length * 4];
        for (int i = 0; i < candidateProposals.Length; i++) Array.Copy(proposalBoxes, candidateProposals[i] * 4, boxes, i * 4, 4);
        int[] kept = Nms.Batched(boxes, candidateScores, candidateClasses, settings.NmsThreshold, settings.MaxDetections);

        var keptIndex = tensor(kept.Select(k => (long)k).ToArray(), device: proposalIndex.device);
        var keptProposals = proposalIndex[keptIndex];
        var keptClasses = classIndex[keptIndex];
        return new Selection(
            kept.Select(k => candidateProposals[k]).ToArray(),
            kept.Select(k => candidateClasses[k]).ToArray(),
            kept.Select(k => candidateScores[k]).ToArray(),
            detection[keptProposals, keptClasses + 1].cpu().contiguous().data<float>().ToArray(),
            vlm[keptProposals, keptClasses].cpu().contiguous().data<float>().ToArray());
    }

    /// <summary>F-VLM's fused class probabilities ([R, C], background dropped) under the setting's fusion method.</summary>
    private static Tensor Fuse(InferenceSettings settings, Tensor detection, Tensor vlm, Tensor? objectness, IReadOnlyList<bool> isNovel)
    {
        var fusion = settings.Fusion;
        var fused = ScoreFusion.Fuse(detection, vlm, isNovel, settings.BaseVlmWeight, settings.NovelVlmWeight, fusion.Renormalise);
        if (fusion.ObjectnessWeight != 0)
            fused = ScoreFusion.WeighByObjectness(fused, objectness ?? throw new InvalidOperationException(
                $"The fusion method {fusion.Name} weighs by objectness, but the RPN gave no objectness for the proposals."), fusion.ObjectnessWeight);
        return fused[.., 1..];
    }

    /// <summary>
    /// Adds the ranking of <see cref="Select"/> to <paramref name="graph"/>, for one image and one setting: the setting's
    /// scores (F-VLM's fusion by <see cref="ScoreFusion.ExportFuse"/> with the VLM's weight per class as an input and the
    /// setting's objectness weight, or the detector's or the VLM's probabilities alone), then per-class NMS on the
    /// refined boxes over the scores above the threshold (ONNX NonMaxSuppression with the classes as its classes) and
    /// the best <see cref="InferenceSettings.MaxDetections"/> by <c>TopK</c>.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="settings">The score source, thresholds, the number of detections and the fusion method (its weights come from <paramref name="vlmWeights"/>).</param>
    /// <param name="detection">The value [R, 1 + C]: the detector's probabilities.</param>
    /// <param name="vlm">The value [R, C]: the VLM's probabilities.</param>
    /// <param name="objectness">The value [R]: the proposals' objectness probabilities.</param>
    /// <param name="vlmWeights">The value [C]: alpha for a base class, beta for a novel one.</param>
    /// <param name="boxes">The value [R, 4]: the refined boxes.</param>
    /// <param name="limits">
    /// The values of the score threshold [1], the NMS threshold [1] (float32) and the detections kept [1] (int64), when
    /// the graph takes them as inputs; by default, the setting's as constants.
    /// </param>
    /// <returns>
    /// The kept detections, best first: proposal index [M] (int64), class [M] (int64, a row of the vocabulary), score
    /// [M], and the detector's and the VLM's probability of the class [M]; and the highest score of any (box, class)
    /// pair, or -1 when there are no boxes (a scalar).
    /// </returns>
    public static (string Proposals, string Classes, string Scores, string DetectionScores, string VlmScores, string HighestScore) ExportSelect(OnnxGraphBuilder graph,
        InferenceSettings settings, string detection, string vlm, string objectness, string vlmWeights, string boxes,
        (string ScoreThreshold, string NmsThreshold, string MaxDetections)? limits = null)
    {
        string ClassColumns(string probabilities, string name) =>
            graph.Node("Slice", name, [probabilities, graph.Int64s($"{name}.from", 1), graph.Int64s($"{name}.to", long.MaxValue), graph.Int64s($"{name}.axis", 1)]);
        string detectionClasses = ClassColumns(detection, "select.detection");
        string scores = settings.ScoreSource switch
        {
            DetectionScoreSource.Detection => detectionClasses,
            DetectionScoreSource.Vlm => vlm,
            _ => ClassColumns(ExportFused(graph, settings.Fusion, detection, vlm, objectness, vlmWeights), "select.fused"),
        };
        string byClass = graph.Node("Unsqueeze", "select.by_class", [graph.Node("Transpose", "select.classes_first", [scores], ("perm", new long[] { 1, 0 })), graph.Int64s("select.batch", 0)]);
        var (scoreThreshold, nmsThreshold, maxDetections) = limits ?? (graph.Weight("select.threshold", [(float)settings.ScoreThreshold]),
            graph.Weight("select.iou", [(float)settings.NmsThreshold]), graph.Int64s("select.max_detections", settings.MaxDetections));
        string selected = graph.Node("NonMaxSuppression", "select.nms",
            [graph.Node("Unsqueeze", "select.nms_boxes", [boxes, graph.Int64s("select.batch_axis", 0)]), byClass, maxDetections, nmsThreshold, scoreThreshold]);
        string Column(int column) => graph.Node("Squeeze", $"select.column{column}",
            [graph.Node("Slice", $"select.slice{column}", [selected, graph.Int64s($"select.start{column}", column), graph.Int64s($"select.end{column}", column + 1), graph.Int64s($"select.axis{column}", 1)]),
             graph.Int64s($"select.squeeze{column}", 1)]);
        string classes = Column(1), proposals = Column(2);
        string Pairs(string rows, string columns, string name) => graph.Node("Concat", name, [graph.Node("Unsqueeze", $"{name}.rows", [rows, graph.Int64s($"{name}.row_axis", 1)]),
            graph.Node("Unsqueeze", $"{name}.columns", [columns, graph.Int64s($"{name}.column_axis", 1)])], ("axis", 1L));
        string candidateScores = graph.Node("GatherND", "select.candidate_scores", [scores, Pairs(proposals, classes, "select.pairs")]);
        string kept = graph.Node("Min", "select.kept", [graph.Node("Shape", "select.count", [candidateScores]), maxDetections]);
        string[] best = graph.Node("TopK", "select.best", [candidateScores, kept], 2, ("axis", 0L), ("largest", 1L), ("sorted", 1L));
        string keptProposals = graph.Node("Gather", "select.proposals", [proposals, best[1]], ("axis", 0L));
        string keptClasses = graph.Node("Gather", "select.labels", [classes, best[1]], ("axis", 0L));
        string keptPairs = Pairs(keptProposals, keptClasses, "select.kept_pairs");
        // Scores are probabilities: -1 stands for "no pair" (ReduceMax of nothing is not defined).
        string highest = graph.Node("ReduceMax", "select.highest", [graph.Node("Concat", "select.all_scores",
            [graph.Node("Reshape", "select.flat_scores", [scores, graph.Int64s("select.flat", -1)]), graph.Weight("select.none", [-1f], 1)], ("axis", 0L))], ("keepdims", 0L));
        return (keptProposals, keptClasses, best[0],
            graph.Node("GatherND", "select.detection_scores", [detectionClasses, keptPairs]), graph.Node("GatherND", "select.vlm_scores", [vlm, keptPairs]), highest);
    }

    /// <summary>F-VLM's fused probabilities [R, 1 + C] (<see cref="Fuse"/>) in a graph.</summary>
    private static string ExportFused(OnnxGraphBuilder graph, FusionMethod fusion, string detection, string vlm, string objectness, string vlmWeights)
    {
        string fused = ScoreFusion.ExportFuse(graph, "fuse", detection, vlm, vlmWeights, fusion.Renormalise);
        return fusion.ObjectnessWeight == 0 ? fused
            : graph.Node("Mul", "fuse.objectness", [fused, graph.Node("Unsqueeze", "fuse.objectness_column",
                [graph.Node("Pow", "fuse.objectness_power", [objectness, graph.Weight("fuse.objectness_weight", [(float)fusion.ObjectnessWeight])]), graph.Int64s("fuse.axis1", 1)])]);
    }

    /// <summary>Masks of the given proposals (their refined boxes), predicted in one call and pasted at the original size.</summary>
    private static Dictionary<int, RleMask> PasteMasks(Func<Tensor, Tensor> predictMasks, Device device, float[] canvasBoxes, ImageGeometry geometry, int[] proposals)
    {
        var masks = new Dictionary<int, RleMask>(proposals.Length);
        if (proposals.Length == 0) return masks;
        var boxes = new float[proposals.Length * 4];
        for (int i = 0; i < proposals.Length; i++) Array.Copy(canvasBoxes, proposals[i] * 4, boxes, i * 4, 4);
        float[] probabilities = predictMasks(tensor(boxes, [proposals.Length, 4]).to(device)).sigmoid().cpu().contiguous().data<float>().ToArray();
        int m = RoiHeads.MaskSize, plane = m * m;
        var (height, width) = geometry.OriginalSize;
        var buffer = new byte[height * width];
        for (int i = 0; i < proposals.Length; i++)
        {
            var originalBox = geometry.OriginalBox(boxes.AsSpan(i * 4, 4));
            masks[proposals[i]] = MaskPaster.Paste(probabilities.AsSpan(i * plane, plane), m, originalBox, height, width, buffer);
        }
        return masks;
    }

    /// <summary>Kept detections of one setting, best first: proposal index, class and the three scores of each.</summary>
    internal sealed record Selection(int[] Proposals, int[] Classes, float[] Scores, float[] DetectionScores, float[] VlmScores)
    {
        public static readonly Selection Empty = new([], [], [], [], []);

        /// <summary>See <see cref="ImageDetections.HighestScoreBelowThreshold"/>.</summary>
        public float? HighestScoreBelowThreshold { get; init; }
    }
}

/// <summary>Where an image lies on the canvas: its (height, width) there, canvas pixels per original pixel, and its original (height, width).</summary>
internal sealed record ImageGeometry((int Height, int Width) CanvasSize, float Scale, (int Height, int Width) OriginalSize)
{
    /// <summary>A canvas box in the original image's pixels, clipped to it.</summary>
    public float[] OriginalBox(ReadOnlySpan<float> canvasBox)
    {
        var box = new float[4];
        for (int j = 0; j < 4; j++)
            box[j] = Math.Clamp(canvasBox[j] / Scale, 0, j % 2 == 0 ? OriginalSize.Width : OriginalSize.Height);
        return box;
    }
}

/// <summary>
/// The frozen VLM's class probabilities for boxes of one image: region embeddings pooled from the VLM's region levels
/// (one per scale of the region scaling), against the vocabulary's text embeddings at the VLM's temperature (F-VLM's
/// VLM score, which the fusion combines with the detector's).
/// </summary>
internal sealed class VlmRegionScorer
{
    private readonly FrozenVlm _vlm;
    private readonly Tensor[] _levels;
    private readonly RegionScaling _scaling;
    private readonly Tensor _text;

    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="regionLevels">Per scale of <paramref name="scaling"/>, [1, C, h, w]: the VLM's region level for this image.</param>
    /// <param name="scaling">The scales the VLM embeds regions at.</param>
    /// <param name="text">[C, D] unit text embeddings of the vocabulary (on the head's device).</param>
    public VlmRegionScorer(FrozenVlm vlm, IReadOnlyList<Tensor> regionLevels, RegionScaling scaling, Tensor text)
    {
        _vlm = vlm;
        // The region pooler runs on ONNX Runtime's side: on the CPU.
        _levels = regionLevels.Select(l => l.cpu()).ToArray();
        _scaling = scaling;
        _text = text;
    }

    /// <summary>
    /// Adds what <see cref="Score"/> computes to <paramref name="graph"/>: the VLM's probabilities over the vocabulary for
    /// boxes, from the region maps of <see cref="FrozenVlm.ExportRegionMaps"/>.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="models">Its graphs.</param>
    /// <param name="maps">Per scale of <paramref name="scaling"/>, the region map.</param>
    /// <param name="scaling">The scales the VLM embeds regions at.</param>
    /// <param name="boxes">The value [R, 4] (canvas pixels).</param>
    /// <param name="text">The value [C, D]: unit text embeddings of the vocabulary.</param>
    /// <returns>The value [R, C].</returns>
    public static string Export(OnnxGraphBuilder graph, FrozenVlm vlm, VlmGraphModels models, IReadOnlyList<string> maps, RegionScaling scaling, string boxes, string text)
    {
        string regions = vlm.ExportEmbedRegions(graph, models, maps, boxes, scaling);
        return ExportScores(graph, vlm, regions, text);
    }

    /// <summary>Adds the VLM's probabilities over the vocabulary for unit region embeddings to <paramref name="graph"/>: cosines over the VLM's temperature, softmax.</summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="regions">The value [R, D]: unit region embeddings.</param>
    /// <param name="text">The value [C, D]: unit text embeddings of the vocabulary.</param>
    /// <returns>The value [R, C].</returns>
    public static string ExportScores(OnnxGraphBuilder graph, FrozenVlm vlm, string regions, string text)
    {
        string similarities = graph.Node("MatMul", "vlm.similarities", [regions, graph.Node("Transpose", "vlm.text_columns", [text], ("perm", new long[] { 1, 0 }))]);
        return graph.Node("Softmax", "vlm.probabilities", [graph.Node("Div", "vlm.logits", [similarities, graph.Weight("vlm.temperature", [(float)vlm.Manifest.LogitTemperature])])], ("axis", 1L));
    }

    /// <summary>Probabilities [R, C] over the vocabulary for boxes [R, 4] (canvas pixels), on the text embeddings' device.</summary>
    public Tensor Score(Tensor boxes)
    {
        var regions = _vlm.EmbedRegions(_levels, boxes.cpu(), _scaling).to(_text.device);
        return (regions.matmul(_text.t()) / _vlm.Manifest.LogitTemperature).softmax(1);
    }
}
