using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Ops;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The region proposal network: anchors on every pyramid level, the shared <see cref="RpnHead"/>,
/// proposals per image, and in training the RPN losses (anchors matched at 0.7 / 0.3 with
/// low-quality matches, 256 sampled per image, half positive).
/// </summary>
internal sealed class RegionProposalNetwork : Module<RpnInput, RpnOutput>
{
    [ComponentName(Name = "head")]
    private readonly RpnHead _head;
    private readonly AnchorGenerator _anchors;
    private readonly int[] _strides;
    private readonly BoxCoder _coder = new(1, 1, 1, 1);
    private readonly Matcher _matcher;
    private readonly BalancedSampler _sampler;
    private readonly ProposalSelector _trainingSelector;
    private readonly ProposalSelector _inferenceSelector;

    public RegionProposalNetwork(RpnHead head, AnchorGenerator anchors, IReadOnlyList<int> strides, RpnSettings settings) : base(nameof(RegionProposalNetwork))
    {
        if (anchors.LevelCount != strides.Count) throw new ArgumentException($"{anchors.LevelCount} anchor sizes for {strides.Count} levels.");
        _head = head;
        _anchors = anchors;
        _strides = strides.ToArray();
        _matcher = new Matcher(settings.ForegroundIou, settings.BackgroundIou, allowLowQualityMatches: true);
        _sampler = new BalancedSampler(settings.SamplesPerImage, settings.PositiveFraction);
        _trainingSelector = new ProposalSelector(_coder, settings.TrainingPreNmsTopK, settings.TrainingPostNmsTopK, settings.NmsThreshold);
        _inferenceSelector = new ProposalSelector(_coder, settings.InferencePreNmsTopK, settings.InferencePostNmsTopK, settings.NmsThreshold);
        RegisterComponents();
    }

    public override RpnOutput forward(RpnInput input)
    {
        var (objectness, deltas) = _head.forward(input.Levels);
        long batch = input.Levels[0].shape[0];
        var anchors = new Tensor[objectness.Length];
        for (int l = 0; l < objectness.Length; l++)
            anchors[l] = _anchors.LevelAnchors(l, input.Levels[l].shape[2], input.Levels[l].shape[3], _strides[l], input.Levels[l].device);

        var selector = training ? _trainingSelector : _inferenceSelector;
        var proposals = new Tensor[batch];
        var proposalObjectness = new Tensor[batch];
        for (int i = 0; i < batch; i++)
        {
            var (height, width) = input.ImageSizes[i];
            var (boxes, logits) = selector.Select(objectness.Select(o => o[i]).ToArray(), deltas.Select(d => d[i]).ToArray(), anchors, height, width);
            proposals[i] = boxes;
            proposalObjectness[i] = logits.sigmoid();
        }
        if (!training || input.Targets is null) return new RpnOutput(proposals, null, null, proposalObjectness);

        var allAnchors = cat(anchors, 0);
        var allObjectness = cat(objectness, 1);
        var allDeltas = cat(deltas, 1);
        var sampledLogits = new List<Tensor>();
        var sampledLabels = new List<Tensor>();
        var positiveDeltas = new List<Tensor>();
        var positiveTargets = new List<Tensor>();
        for (int i = 0; i < batch; i++)
        {
            var truth = input.Targets[i].Boxes;
            var matches = _matcher.Match(BoxOps.Iou(truth, allAnchors));
            var labels = (matches >= 0).to(ScalarType.Int64);
            labels = labels.masked_fill(matches == Matcher.BetweenThresholds, -1);
            var (positive, negative) = _sampler.Sample(labels, input.Generator);
            var sampled = cat([positive, negative]);
            sampledLogits.Add(allObjectness[i][sampled]);
            sampledLabels.Add(labels[sampled]);
            if (positive.shape[0] > 0)
            {
                positiveDeltas.Add(allDeltas[i][positive]);
                positiveTargets.Add(_coder.Encode(allAnchors[positive], truth[matches[positive]]));
            }
        }
        var boxDeltas = positiveDeltas.Count > 0 ? cat(positiveDeltas) : zeros(0, 4, device: allDeltas.device);
        var boxTargets = positiveTargets.Count > 0 ? cat(positiveTargets) : zeros(0, 4, device: allDeltas.device);
        var (objectnessLoss, boxLoss) = DetectionLosses.Rpn(cat(sampledLogits), cat(sampledLabels), boxDeltas, boxTargets);
        return new RpnOutput(proposals, objectnessLoss, boxLoss, proposalObjectness);
    }

    /// <summary>
    /// Adds what <see cref="forward"/> computes at inference to <paramref name="graph"/>, for one image: the proposals
    /// [P, 4] and their objectness probabilities [P].
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="levels">The values P2..P6 of the image ([1, C, H / s, W / s]).</param>
    /// <param name="imageSize">The value [2] (float): the image's height and width on the canvas.</param>
    public (string Proposals, string Objectness) Export(OnnxGraphBuilder graph, IReadOnlyList<string> levels, string imageSize)
    {
        var (objectness, deltas) = _head.Export(graph, levels);
        var anchors = levels.Select((level, l) => _anchors.Export(graph, $"rpn.anchors{l}", l, level, _strides[l])).ToArray();
        var (proposals, logits) = _inferenceSelector.Export(graph, "rpn.select", objectness, deltas, anchors, imageSize);
        return (proposals, graph.Node("Sigmoid", "rpn.objectness", [logits]));
    }
}

/// <summary>
/// Input of <see cref="RegionProposalNetwork"/>: pyramid levels of a padded batch, each image's
/// own (height, width) on the canvas (proposals are clipped to it), and training targets.
/// </summary>
internal sealed record RpnInput(Tensor[] Levels, IReadOnlyList<(long Height, long Width)> ImageSizes, IReadOnlyList<DetectionTarget>? Targets = null, Generator? Generator = null);

/// <summary>
/// Proposals per image ([P_i, 4], no gradient), in training the two RPN losses, and each proposal's
/// objectness probability per image ([P_i], the sigmoid of its logit; what F-VLM's optional
/// objectness weight raises to a power).
/// </summary>
internal sealed record RpnOutput(Tensor[] Proposals, Tensor? ObjectnessLoss, Tensor? BoxLoss, Tensor[]? ProposalObjectness = null);

/// <summary>Ground truth of one training image: boxes [G, 4] pixels, classes [G] (0-based vocabulary index), masks [G, H, W] (0 / 1).</summary>
internal sealed record DetectionTarget(Tensor Boxes, Tensor Classes, Tensor? Masks);

/// <summary>RPN hyper-parameters (defaults as torchvision and detectron2; the option-backed one has no default here: <see cref="FVlmOptions.InferenceProposalCount"/>).</summary>
internal sealed record RpnSettings
{
    public double ForegroundIou { get; init; } = 0.7;
    public double BackgroundIou { get; init; } = 0.3;
    public int SamplesPerImage { get; init; } = 256;
    public double PositiveFraction { get; init; } = 0.5;
    public double NmsThreshold { get; init; } = 0.7;
    public int TrainingPreNmsTopK { get; init; } = 2000;
    public int TrainingPostNmsTopK { get; init; } = 1000;
    public int InferencePreNmsTopK { get; init; } = 1000;
    public required int InferencePostNmsTopK { get; init; }
}
