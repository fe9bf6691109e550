using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// From one image's proposals, region embeddings and box deltas to detections: detector
/// probabilities over [background; vocabulary], class-agnostic box refinement, the frozen VLM's
/// probabilities for the refined boxes, F-VLM's fusion, per-class NMS, top-k, and masks pasted at
/// the original resolution.
/// </summary>
internal sealed class DetectionPostProcessor
{
    private readonly RoiHeads _roiHeads;
    private readonly FrozenVlm _vlm;
    private readonly InferenceSettings _settings;

    public DetectionPostProcessor(RoiHeads roiHeads, FrozenVlm vlm, InferenceSettings settings) =>
        (_roiHeads, _vlm, _settings) = (roiHeads, vlm, settings);

    /// <param name="levels">The batch's pyramid levels (for masks).</param>
    /// <param name="image">Index of the image in the batch.</param>
    /// <param name="regionLevel">[1, C, h, w]: the VLM's region level for this image.</param>
    /// <param name="proposals">[P, 4] canvas pixels.</param>
    /// <param name="embeddings">[P, D] the box head's region embeddings.</param>
    /// <param name="deltas">[P, 4] the box head's deltas.</param>
    /// <param name="text">[C, D] unit text embeddings of the vocabulary.</param>
    /// <param name="isNovel">[C] novel flags (beta weighs the VLM for them, alpha for the others).</param>
    /// <param name="canvasSize">The image's (height, width) on the canvas.</param>
    /// <param name="scale">Canvas pixels per original pixel.</param>
    /// <param name="originalSize">The original image's (height, width).</param>
    public ImageDetections Process(Tensor[] levels, int image, Tensor regionLevel, Tensor proposals, Tensor embeddings, Tensor deltas,
        Tensor text, IReadOnlyList<bool> isNovel, (int Height, int Width) canvasSize, float scale, (int Height, int Width) originalSize)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (proposals.shape[0] == 0) return ImageDetections.Empty(_settings.PredictMasks);

        var detection = _roiHeads.Classify(embeddings, text).softmax(1);
        var boxes = BoxOps.Clip(_roiHeads.BoxCoder.Decode(deltas, proposals), canvasSize.Height, canvasSize.Width);
        var regions = nn.functional.normalize(_vlm.EmbedRegions(regionLevel.cpu(), boxes.cpu()), dim: -1).to(text.device);
        var vlm = (regions.matmul(text.t()) / _vlm.Manifest.LogitTemperature).softmax(1);
        var scores = _settings.ScoreSource switch
        {
            DetectionScoreSource.Detection => detection[.., 1..],
            DetectionScoreSource.Vlm => vlm,
            _ => ScoreFusion.Fuse(detection, vlm, isNovel, _settings.BaseVlmWeight, _settings.NovelVlmWeight)[.., 1..],
        };

        // Candidates: every (proposal, class) above the threshold, sharing the proposal's refined box.
        var candidates = nonzero(scores > _settings.ScoreThreshold);
        if (candidates.shape[0] == 0) return ImageDetections.Empty(_settings.PredictMasks);
        var proposalIndex = candidates[.., 0].contiguous();
        var classIndex = candidates[.., 1].contiguous();
        float[] candidateBoxes = boxes[proposalIndex].cpu().contiguous().data<float>().ToArray();
        float[] candidateScores = scores[proposalIndex, classIndex].cpu().contiguous().data<float>().ToArray();
        int[] candidateClasses = classIndex.cpu().to(ScalarType.Int32).data<int>().ToArray();
        int[] kept = Nms.Batched(candidateBoxes, candidateScores, candidateClasses, _settings.NmsThreshold, _settings.MaxDetections);

        var keptIndex = tensor(kept.Select(k => (long)k).ToArray(), device: proposalIndex.device);
        var keptProposals = proposalIndex[keptIndex];
        var keptClasses = classIndex[keptIndex];
        float[] detectionScores = detection[keptProposals, keptClasses + 1].cpu().contiguous().data<float>().ToArray();
        float[] vlmScores = vlm[keptProposals, keptClasses].cpu().contiguous().data<float>().ToArray();

        var canvasBoxes = new float[kept.Length * 4];
        var originalBoxes = new float[kept.Length * 4];
        for (int i = 0; i < kept.Length; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                canvasBoxes[i * 4 + j] = candidateBoxes[kept[i] * 4 + j];
                float limit = j % 2 == 0 ? originalSize.Width : originalSize.Height;
                originalBoxes[i * 4 + j] = Math.Clamp(canvasBoxes[i * 4 + j] / scale, 0, limit);
            }
        }
        var masks = _settings.PredictMasks ? PasteMasks(levels, image, canvasBoxes, originalBoxes, originalSize) : null;
        return new ImageDetections(originalBoxes, kept.Select(k => candidateClasses[k]).ToArray(), kept.Select(k => candidateScores[k]).ToArray(),
            detectionScores, vlmScores, masks);
    }

    private Data.RleMask[] PasteMasks(Tensor[] levels, int image, float[] canvasBoxes, float[] originalBoxes, (int Height, int Width) size)
    {
        int count = canvasBoxes.Length / 4;
        if (count == 0) return [];
        var boxTensor = tensor(canvasBoxes, [count, 4]).to(levels[0].device);
        float[] probabilities = _roiHeads.PredictMasks(levels, image, boxTensor).sigmoid().cpu().contiguous().data<float>().ToArray();
        int m = RoiHeads.MaskSize, plane = m * m;
        var buffer = new byte[size.Height * size.Width];
        var masks = new Data.RleMask[count];
        for (int i = 0; i < count; i++)
            masks[i] = MaskPaster.Paste(probabilities.AsSpan(i * plane, plane), m, originalBoxes.AsSpan(i * 4, 4), size.Height, size.Width, buffer);
        return masks;
    }
}
