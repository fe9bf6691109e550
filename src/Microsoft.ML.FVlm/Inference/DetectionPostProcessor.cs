using System.Diagnostics;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// From one image's proposals, region embeddings and box deltas to detections: detector
/// probabilities over [background; vocabulary], class-agnostic box refinement, the frozen VLM's
/// probabilities for the proposals (F-VLM's reference) or the refined boxes, F-VLM's fusion,
/// per-class NMS on the refined boxes, top-k, and masks pasted at the original resolution.
/// </summary>
/// <remarks>
/// Several post-processing settings (fused, detection-only, VLM-only, other fusion methods) share one
/// scoring pass: the refined boxes and the probability tables depend on the proposals alone, and the
/// VLM scores each set of boxes the settings ask for once. Boxes and the mask head are
/// class-agnostic, so a mask depends only on its proposal: each kept proposal's mask is predicted and
/// pasted once, however many classes and settings keep it.
/// </remarks>
internal sealed class DetectionPostProcessor
{
    private readonly RoiHeads _roiHeads;
    private readonly FrozenVlm _vlm;

    public DetectionPostProcessor(RoiHeads roiHeads, FrozenVlm vlm) => (_roiHeads, _vlm) = (roiHeads, vlm);

    /// <param name="levels">The batch's pyramid levels (for masks).</param>
    /// <param name="image">Index of the image in the batch.</param>
    /// <param name="regionLevels">Per scale of <paramref name="regionScaling"/>, [1, C, h, w]: the VLM's region level for this image.</param>
    /// <param name="regionScaling">The scales the VLM embeds regions at.</param>
    /// <param name="proposals">[P, 4] canvas pixels.</param>
    /// <param name="embeddings">[P, D] the box head's region embeddings.</param>
    /// <param name="deltas">[P, 4] the box head's deltas.</param>
    /// <param name="objectness">[P] the proposals' RPN objectness probabilities (for a fusion method with an objectness weight).</param>
    /// <param name="text">[C, D] unit text embeddings of the vocabulary.</param>
    /// <param name="isNovel">[C] novel flags (beta weighs the VLM for them, alpha for the others).</param>
    /// <param name="canvasSize">The image's (height, width) on the canvas.</param>
    /// <param name="scale">Canvas pixels per original pixel.</param>
    /// <param name="originalSize">The original image's (height, width).</param>
    /// <param name="settings">One or more post-processing settings.</param>
    /// <param name="timings">Adds the time of each stage, when given.</param>
    /// <param name="canvas">[N, 3, H, W] the batch's canvas, for a mask head with a pixel branch.</param>
    /// <returns>The image's detections under each of <paramref name="settings"/>.</returns>
    public ImageDetections[] Process(Tensor[] levels, int image, IReadOnlyList<Tensor> regionLevels, RegionScaling regionScaling, Tensor proposals, Tensor embeddings, Tensor deltas,
        Tensor? objectness, Tensor text, IReadOnlyList<bool> isNovel, (int Height, int Width) canvasSize, float scale, (int Height, int Width) originalSize,
        IReadOnlyList<InferenceSettings> settings, InferenceTimings? timings = null, Tensor? canvas = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (proposals.shape[0] == 0) return settings.Select(s => ImageDetections.Empty(s.PredictMasks)).ToArray();

        long start = Stopwatch.GetTimestamp();
        var detection = _roiHeads.Classify(embeddings, text).softmax(1);
        var boxes = BoxOps.Clip(_roiHeads.BoxCoder.Decode(deltas, proposals), canvasSize.Height, canvasSize.Width);
        timings?.Add(InferenceStage.Head, start);
        start = Stopwatch.GetTimestamp();
        // The VLM's probabilities for each set of boxes some setting asks it to score.
        var cpuLevels = regionLevels.Select(l => l.cpu()).ToArray();
        var vlm = settings.Select(s => s.Fusion.VlmBoxes).Distinct().ToDictionary(b => b, b =>
        {
            var regions = _vlm.EmbedRegions(cpuLevels, (b == VlmScoredBoxes.Proposals ? proposals : boxes).cpu(), regionScaling).to(text.device);
            return (regions.matmul(text.t()) / _vlm.Manifest.LogitTemperature).softmax(1);
        });
        float[] canvasBoxes = boxes.cpu().contiguous().data<float>().ToArray();
        timings?.Add(InferenceStage.VlmRegionScoring, start);

        start = Stopwatch.GetTimestamp();
        var selections = settings.Select(s => Select(s, detection, vlm[s.Fusion.VlmBoxes], objectness, isNovel, canvasBoxes)).ToArray();
        timings?.Add(InferenceStage.PostProcessing, start);
        start = Stopwatch.GetTimestamp();
        var masks = PasteMasks(levels, canvas, image, canvasBoxes, scale, originalSize,
            selections.Where((_, s) => settings[s].PredictMasks).SelectMany(k => k.Proposals).Distinct().ToArray());
        timings?.Add(InferenceStage.Masks, start);

        var results = new ImageDetections[settings.Count];
        for (int s = 0; s < settings.Count; s++)
        {
            var kept = selections[s];
            var originalBoxes = new float[kept.Proposals.Length * 4];
            for (int i = 0; i < kept.Proposals.Length; i++)
                OriginalBox(canvasBoxes.AsSpan(kept.Proposals[i] * 4, 4), scale, originalSize).CopyTo(originalBoxes.AsSpan(i * 4, 4));
            results[s] = new ImageDetections(originalBoxes, kept.Classes, kept.Scores, kept.DetectionScores, kept.VlmScores,
                settings[s].PredictMasks ? kept.Proposals.Select(p => masks[p]).ToArray() : null)
            {
                HighestScoreBelowThreshold = kept.HighestScoreBelowThreshold,
            };
        }
        return results;
    }

    /// <summary>Ranks (proposal, class) pairs under one setting: threshold, per-class NMS on the refined boxes, top-k.</summary>
    private static Selection Select(InferenceSettings settings, Tensor detection, Tensor vlm, Tensor? objectness, IReadOnlyList<bool> isNovel, float[] proposalBoxes)
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

    /// <summary>A canvas box in the original image's pixels, clipped to it.</summary>
    private static float[] OriginalBox(ReadOnlySpan<float> canvasBox, float scale, (int Height, int Width) size)
    {
        var box = new float[4];
        for (int j = 0; j < 4; j++)
            box[j] = Math.Clamp(canvasBox[j] / scale, 0, j % 2 == 0 ? size.Width : size.Height);
        return box;
    }

    /// <summary>Masks of the given proposals (their refined boxes), predicted in one call and pasted at the original size.</summary>
    private Dictionary<int, RleMask> PasteMasks(Tensor[] levels, Tensor? canvas, int image, float[] canvasBoxes, float scale, (int Height, int Width) size, int[] proposals)
    {
        var masks = new Dictionary<int, RleMask>(proposals.Length);
        if (proposals.Length == 0) return masks;
        var boxes = new float[proposals.Length * 4];
        for (int i = 0; i < proposals.Length; i++) Array.Copy(canvasBoxes, proposals[i] * 4, boxes, i * 4, 4);
        float[] probabilities = _roiHeads.PredictMasks(levels, image, tensor(boxes, [proposals.Length, 4]).to(levels[0].device), canvas)
            .sigmoid().cpu().contiguous().data<float>().ToArray();
        int m = RoiHeads.MaskSize, plane = m * m;
        var buffer = new byte[size.Height * size.Width];
        for (int i = 0; i < proposals.Length; i++)
        {
            var originalBox = OriginalBox(boxes.AsSpan(i * 4, 4), scale, size);
            masks[proposals[i]] = MaskPaster.Paste(probabilities.AsSpan(i * plane, plane), m, originalBox, size.Height, size.Width, buffer);
        }
        return masks;
    }

    /// <summary>Kept detections of one setting, best first: proposal index, class and the three scores of each.</summary>
    private sealed record Selection(int[] Proposals, int[] Classes, float[] Scores, float[] DetectionScores, float[] VlmScores)
    {
        public static readonly Selection Empty = new([], [], [], [], []);

        /// <summary>See <see cref="ImageDetections.HighestScoreBelowThreshold"/>.</summary>
        public float? HighestScoreBelowThreshold { get; init; }
    }
}
