using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Ops;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The second stage: proposals pooled from P2..P5 (7x7 for boxes, 14x14 for masks), the box head's
/// region embeddings classified against [background; text embeddings], class-agnostic box deltas,
/// and the class-agnostic mask head. In training, proposals (plus the ground-truth boxes) are
/// matched at IoU 0.5, 512 sampled per image with at most a quarter positive, and the Fast R-CNN
/// and mask losses returned.
/// </summary>
internal sealed class RoiHeads : Module<RoiHeadsInput, RoiHeadsOutput>
{
    /// <summary>Mask targets and predictions are this many pixels per side.</summary>
    public const int MaskSize = 28;

    [ComponentName(Name = "box_head")]
    private readonly BoxHead _boxHead;
    [ComponentName(Name = "mask_head")]
    private readonly MaskHead _maskHead;
    [ComponentName(Name = "classifier")]
    private readonly RegionTextClassifier _classifier;
    private readonly MultiScaleRoiAlign _boxPooler;
    private readonly MultiScaleRoiAlign _maskPooler;
    private readonly Matcher _matcher;
    private readonly BalancedSampler _sampler;

    /// <summary>The box head's delta weights (10, 10, 5, 5).</summary>
    public BoxCoder BoxCoder { get; } = new(10, 10, 5, 5);

    public RoiHeads(BoxHead boxHead, MaskHead maskHead, RegionTextClassifier classifier, IReadOnlyList<int> strides, RoiHeadsSettings settings) : base(nameof(RoiHeads))
    {
        _boxHead = boxHead;
        _maskHead = maskHead;
        _classifier = classifier;
        _boxPooler = new MultiScaleRoiAlign(strides, BoxHead.PoolSize, canonicalSize: settings.CanonicalBoxSize);
        _maskPooler = new MultiScaleRoiAlign(strides, MaskSize / 2, canonicalSize: settings.CanonicalBoxSize);
        _matcher = new Matcher(settings.ForegroundIou, settings.ForegroundIou, allowLowQualityMatches: false);
        _sampler = new BalancedSampler(settings.SamplesPerImage, settings.PositiveFraction);
        RegisterComponents();
    }

    public override RoiHeadsOutput forward(RoiHeadsInput input)
    {
        if (training && input.Targets is not null) return Train(input);
        var regions = new RegionPredictions[input.Proposals.Count];
        for (int i = 0; i < input.Proposals.Count; i++)
            regions[i] = Predict(input.Levels, i, input.Proposals[i], input.TextEmbeddings, input.ImageSizes[i]);
        return new RoiHeadsOutput(regions, null, null, null);
    }

    /// <summary>
    /// The second stage's inference for one image (detectron2's <c>StandardROIHeads._forward_box</c> before its
    /// selection): the box head on the proposals' pooled features, its region embeddings classified against
    /// [background; vocabulary], and the proposals refined by its class-agnostic deltas and clipped to the image.
    /// </summary>
    /// <param name="levels">The batch's pyramid levels.</param>
    /// <param name="image">Index of the image in the batch.</param>
    /// <param name="proposals">[P, 4] canvas pixels.</param>
    /// <param name="textEmbeddings">[C, D] unit text embeddings of the vocabulary.</param>
    /// <param name="imageSize">The image's (height, width) on the canvas.</param>
    public RegionPredictions Predict(Tensor[] levels, int image, Tensor proposals, Tensor textEmbeddings, (long Height, long Width) imageSize)
    {
        var (embeddings, deltas) = _boxHead.forward(_boxPooler.Forward(ImageLevels(levels, image), proposals));
        var probabilities = _classifier.forward(embeddings, textEmbeddings).softmax(1);
        var boxes = BoxOps.Clip(BoxCoder.Decode(deltas, proposals), imageSize.Height, imageSize.Width);
        return new RegionPredictions(proposals, boxes, probabilities);
    }

    /// <summary>
    /// Adds what <see cref="Predict"/> computes to <paramref name="graph"/>, for one image: the refined boxes [P, 4]
    /// (clipped to the image) and probabilities [P, 1 + C] of the proposals.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="levels">The values P2..P6 of the image (P2..P5 are pooled).</param>
    /// <param name="proposals">The value [P, 4].</param>
    /// <param name="textEmbeddings">The value [C, D] of unit text embeddings.</param>
    /// <param name="imageSize">The value [2] (float): the image's height and width on the canvas.</param>
    public (string Boxes, string Probabilities) ExportPredict(OnnxGraphBuilder graph, IReadOnlyList<string> levels, string proposals, string textEmbeddings, string imageSize)
    {
        // Every proposal is of image 0 of the graph's one-image batch.
        string count = graph.Node("Shape", "roi_heads.count", [proposals], ("end", 1L));
        string batchIndices = graph.Node("Expand", "roi_heads.batch", [graph.Int64s("roi_heads.image", 0), count]);
        string pooled = _boxPooler.Export(graph, "roi_heads.box_pool", levels.Take(4).ToArray(), proposals, batchIndices);
        var (embeddings, deltas) = _boxHead.Export(graph, pooled);
        string probabilities = graph.Node("Softmax", "roi_heads.probabilities", [_classifier.Export(graph, embeddings, textEmbeddings)], ("axis", 1L));
        string boxes = BoxOps.ExportClip(graph, "roi_heads.boxes", BoxCoder.ExportDecode(graph, "roi_heads.decode", deltas, proposals), imageSize);
        return (boxes, probabilities);
    }

    /// <summary>Adds what <see cref="PredictMasks"/> computes to <paramref name="graph"/>, for one image: mask logits [R, 28, 28] for the boxes.</summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="levels">The values P2..P6 of the image (P2..P5 are pooled).</param>
    /// <param name="boxes">The value [R, 4] in canvas pixels.</param>
    /// <param name="canvas">The value [1, 3, H, W] of the image's canvas; needed when <see cref="MasksUsePixels"/>.</param>
    public string ExportMasks(OnnxGraphBuilder graph, IReadOnlyList<string> levels, string boxes, string? canvas)
    {
        string count = graph.Node("Shape", "roi_heads.mask_count", [boxes], ("end", 1L));
        string batchIndices = graph.Node("Expand", "roi_heads.mask_batch", [graph.Int64s("roi_heads.mask_image", 0), count]);
        string pooled = _maskPooler.Export(graph, "roi_heads.mask_pool", levels.Take(4).ToArray(), boxes, batchIndices);
        string? pixels = !_maskHead.UsesPixels ? null
            : graph.RoiAlign("roi_heads.pixels", canvas ?? throw new InvalidOperationException("This mask head has a pixel branch: its graph needs the canvas."),
                boxes, batchIndices, MaskSize, 1.0, 2);
        return _maskHead.Export(graph, pooled, pixels);
    }

    /// <summary>True when the mask head reads the canvas pixels under each box (a pixel branch).</summary>
    public bool MasksUsePixels => _maskHead.UsesPixels;

    /// <summary>Mask logits [R, 28, 28] for boxes of image <paramref name="image"/>.</summary>
    /// <param name="levels">The batch's pyramid levels.</param>
    /// <param name="image">Index of the image in the batch.</param>
    /// <param name="boxes">[R, 4] canvas pixels.</param>
    /// <param name="pixels">[N, 3, H, W] the batch's canvas (the VLM's normalised input); needed when <see cref="MasksUsePixels"/>.</param>
    public Tensor PredictMasks(Tensor[] levels, int image, Tensor boxes, Tensor? pixels = null) =>
        _maskHead.Forward(_maskPooler.Forward(ImageLevels(levels, image), boxes), PixelsUnder(pixels, image, boxes));

    /// <summary>The canvas under each box at the mask's resolution, when the mask head reads it (the head refuses a missing canvas).</summary>
    private Tensor? PixelsUnder(Tensor? pixels, int image, Tensor boxes)
    {
        if (!_maskHead.UsesPixels || pixels is null) return null;
        using var noGrad = no_grad();
        return RoiAlign.Forward(pixels[image..(image + 1)], boxes.to(pixels.dtype), MaskSize, 1.0, 2);
    }

    private static Tensor[] ImageLevels(Tensor[] levels, int image) => levels.Take(4).Select(l => l[image..(image + 1)]).ToArray();

    private RoiHeadsOutput Train(RoiHeadsInput input)
    {
        var logits = new List<Tensor>();
        var classes = new List<Tensor>();
        var positiveDeltas = new List<Tensor>();
        var positiveTargets = new List<Tensor>();
        var maskLogits = new List<Tensor>();
        var maskTargets = new List<Tensor>();
        for (int i = 0; i < input.Proposals.Count; i++)
        {
            var target = input.Targets![i];
            var proposals = cat([input.Proposals[i], target.Boxes.to(input.Proposals[i].dtype)]);
            var matches = _matcher.Match(BoxOps.Iou(target.Boxes, proposals));
            // An image may have no ground truth (only novel objects, or all cropped away by the jitter): all background.
            var labels = target.Boxes.shape[0] == 0
                ? zeros_like(matches)
                : where(matches >= 0, target.Classes[matches.clamp(min: 0)] + 1, zeros_like(matches));
            var (positive, negative) = _sampler.Sample(labels, input.Generator);
            var sampled = cat([positive, negative]);
            var levels = ImageLevels(input.Levels, i);

            var (embeddings, deltas) = _boxHead.forward(_boxPooler.Forward(levels, proposals[sampled]));
            logits.Add(_classifier.forward(embeddings, input.TextEmbeddings));
            classes.Add(labels[sampled]);
            long positives = positive.shape[0];
            if (positives == 0) continue;
            var positiveBoxes = proposals[positive];
            var positiveTruth = matches[positive];
            positiveDeltas.Add(deltas[..(int)positives]);
            positiveTargets.Add(BoxCoder.Encode(positiveBoxes, target.Boxes[positiveTruth]));
            if (target.Masks is not null)
            {
                maskLogits.Add(_maskHead.Forward(_maskPooler.Forward(levels, positiveBoxes), PixelsUnder(input.Pixels, i, positiveBoxes)));
                maskTargets.Add(MaskTargets(target.Masks, positiveTruth, positiveBoxes));
            }
        }
        var device = input.TextEmbeddings.device;
        var (classification, box) = DetectionLosses.FastRcnn(cat(logits), cat(classes),
            positiveDeltas.Count > 0 ? cat(positiveDeltas) : zeros(0, 4, device: device),
            positiveTargets.Count > 0 ? cat(positiveTargets) : zeros(0, 4, device: device));
        var mask = maskLogits.Count > 0 ? DetectionLosses.Mask(cat(maskLogits), cat(maskTargets)) : zeros(1, device: device).sum();
        return new RoiHeadsOutput(null, classification, box, mask);
    }

    /// <summary>Each positive's ground-truth mask resampled into its proposal at 28x28, thresholded at 0.5.</summary>
    private static Tensor MaskTargets(Tensor masks, Tensor truthIndex, Tensor boxes)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var selected = masks[truthIndex].to(ScalarType.Float32).unsqueeze(1);  // [P, 1, H, W]
        var targets = RoiAlign.ForwardPerBox(selected, boxes.to(ScalarType.Float32), MaskSize, 1.0, 2)[.., 0];
        return (targets >= 0.5).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Input of <see cref="RoiHeads"/>: pyramid levels of the batch, proposals per image, the vocabulary's text embeddings [C, D],
/// each image's (height, width) on the canvas, training targets, and the batch's canvas [N, 3, H, W] for a mask head with a pixel branch.
/// </summary>
internal sealed record RoiHeadsInput(Tensor[] Levels, IReadOnlyList<Tensor> Proposals, Tensor TextEmbeddings, IReadOnlyList<(long Height, long Width)> ImageSizes,
    IReadOnlyList<DetectionTarget>? Targets = null, Generator? Generator = null, Tensor? Pixels = null);

/// <summary>In inference, the second stage's predictions per image; in training, the three losses.</summary>
internal sealed record RoiHeadsOutput(RegionPredictions[]? Regions, Tensor? ClassificationLoss, Tensor? BoxLoss, Tensor? MaskLoss);

/// <summary>
/// The second stage's predictions for one image's proposals: the proposals [P, 4], their refined boxes [P, 4] (canvas
/// pixels, clipped to the image) and the detector's probabilities [P, 1 + C] over [background; vocabulary].
/// </summary>
internal sealed record RegionPredictions(Tensor Proposals, Tensor Boxes, Tensor Probabilities);

/// <summary>Second-stage hyper-parameters; those the options set have no default here (<see cref="FVlmOptions"/> holds them).</summary>
internal sealed record RoiHeadsSettings
{
    public double ForegroundIou { get; init; } = 0.5;
    public required int SamplesPerImage { get; init; }
    public required double PositiveFraction { get; init; }

    /// <summary>The box side, in canvas pixels, that the box and mask poolers take from P4 (<see cref="MultiScaleRoiAlign"/>).</summary>
    public required double CanonicalBoxSize { get; init; }
}
