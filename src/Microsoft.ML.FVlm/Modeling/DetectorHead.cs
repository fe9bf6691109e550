using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// Everything F-VLM trains, on top of the frozen tower's feature maps: the feature pyramid, the
/// region proposal network and the RoI heads. Training forward returns a dictionary of named
/// losses; inference forward returns proposals with their region embeddings and box deltas.
/// </summary>
internal sealed class DetectorHead : Module<DetectorInput, DetectorOutput>
{
    [ComponentName(Name = "fpn")]
    private readonly FeaturePyramid _fpn;
    [ComponentName(Name = "rpn")]
    private readonly RegionProposalNetwork _rpn;
    [ComponentName(Name = "roi_heads")]
    private readonly RoiHeads _roiHeads;

    public DetectorHead(FeaturePyramid fpn, RegionProposalNetwork rpn, RoiHeads roiHeads) : base(nameof(DetectorHead))
    {
        _fpn = fpn;
        _rpn = rpn;
        _roiHeads = roiHeads;
        RegisterComponents();
    }

    /// <summary>The second stage, for classification and masks after <see cref="forward"/>.</summary>
    public RoiHeads RoiHeads => _roiHeads;

    /// <summary>
    /// Adds the head's inference for one image to <paramref name="graph"/>: the pyramid on C2..C5, the RPN's proposals
    /// and objectness, and the second stage's refined boxes and probabilities over [background; vocabulary]
    /// (<see cref="forward"/> in evaluation mode, then <see cref="Modeling.RoiHeads.Predict"/>).
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="features">The values C2..C5 of the image ([1, C_i, H / s_i, W / s_i]).</param>
    /// <param name="textEmbeddings">The value [C, D] of unit text embeddings.</param>
    /// <param name="imageSize">The value [2] (float): the image's height and width on the canvas.</param>
    /// <returns>The proposals [P, 4], their objectness [P], refined boxes [P, 4], probabilities [P, 1 + C], and the pyramid's levels P2..P6 (for the masks).</returns>
    public (string Proposals, string Objectness, string Boxes, string Probabilities, string[] Levels) Export(OnnxGraphBuilder graph, IReadOnlyList<string> features,
        string textEmbeddings, string imageSize)
    {
        var levels = _fpn.Export(graph, features);
        var (proposals, objectness) = _rpn.Export(graph, levels, imageSize);
        var (boxes, probabilities) = _roiHeads.ExportPredict(graph, levels, proposals, textEmbeddings, imageSize);
        return (proposals, objectness, boxes, probabilities, levels.ToArray());
    }

    public override DetectorOutput forward(DetectorInput input)
    {
        var levels = _fpn.forward(input.Features);
        var proposals = _rpn.forward(new RpnInput(levels, input.ImageSizes, input.Targets, input.Generator));
        var second = _roiHeads.forward(new RoiHeadsInput(levels, proposals.Proposals, input.TextEmbeddings, input.ImageSizes, input.Targets, input.Generator, input.Pixels));
        if (!training || input.Targets is null)
            return new DetectorOutput(levels, proposals.Proposals, second.Regions, null, proposals.ProposalObjectness);
        var losses = new Dictionary<string, Tensor>
        {
            ["rpn_objectness"] = proposals.ObjectnessLoss!,
            ["rpn_box"] = proposals.BoxLoss!,
            ["classification"] = second.ClassificationLoss!,
            ["box"] = second.BoxLoss!,
            ["mask"] = second.MaskLoss!,
        };
        return new DetectorOutput(levels, proposals.Proposals, null, losses);
    }
}

/// <summary>
/// Input of <see cref="DetectorHead"/>: the frozen feature maps C2..C5 of a padded batch, each
/// image's size on the canvas, the vocabulary's unit text embeddings [C, D] (base classes in
/// training), training targets, and the batch's canvas [N, 3, H, W] (the VLM's normalised input),
/// which a mask head with a pixel branch reads in training.
/// </summary>
internal sealed record DetectorInput(Tensor[] Features, IReadOnlyList<(long Height, long Width)> ImageSizes, Tensor TextEmbeddings,
    IReadOnlyList<DetectionTarget>? Targets = null, Generator? Generator = null, Tensor? Pixels = null);

/// <summary>
/// Pyramid levels, proposals per image, and either the second stage's predictions per image and the proposals'
/// objectness probabilities (inference) or named losses (training).
/// </summary>
internal sealed record DetectorOutput(Tensor[] Levels, Tensor[] Proposals, RegionPredictions[]? Regions, IReadOnlyDictionary<string, Tensor>? Losses,
    Tensor[]? ProposalObjectness = null);
