using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>The detector's architecture: the only place where settings turn into modules.</summary>
internal sealed record DetectorArchitecture
{
    /// <summary>Channels of the feature pyramid.</summary>
    public required int PyramidChannels { get; init; }

    /// <summary>Channels of the box head's and the mask head's convs.</summary>
    public required int HeadConvChannels { get; init; }

    /// <summary>Width of the box head's fully connected layer.</summary>
    public required int BoxHeadFcDim { get; init; }

    /// <summary>Channels of the mask head's pixel branch (<see cref="MaskHead"/>); 0: Mask R-CNN's head, without one.</summary>
    public required int MaskPixelChannels { get; init; }

    /// <summary>Anchor sizes for P2..P6, in pixels.</summary>
    public required IReadOnlyList<double> AnchorSizes { get; init; }

    /// <summary>Anchor aspect ratios (height / width).</summary>
    public IReadOnlyList<double> AspectRatios { get; init; } = [0.5, 1.0, 2.0];

    public required RpnSettings Rpn { get; init; }

    public required RoiHeadsSettings RoiHeads { get; init; }

    /// <summary>The architecture of the options' defaults (<see cref="FVlmOptions"/> holds every default the options set).</summary>
    public static DetectorArchitecture Default => FVlmOptionsValidator.Architecture(new FVlmOptions());
}

/// <summary>Builds a <see cref="DetectorHead"/> for a frozen VLM's feature levels from a <see cref="DetectorArchitecture"/>.</summary>
internal static class DetectorFactory
{
    public static DetectorHead Create(VlmManifest vlm, DetectorArchitecture architecture)
    {
        var levels = vlm.ImageEncoder.FeatureLevels;
        if (levels.Length != 4)
            throw new ArgumentException($"The detector needs four feature levels (C2..C5); VLM '{vlm.Name}' has {levels.Length}.");
        if (architecture.AnchorSizes.Count != 5)
            throw new ArgumentException($"AnchorSizes needs one size per pyramid level P2..P6 (5); got {architecture.AnchorSizes.Count}.");
        int[] strides = levels.Select(l => l.Stride).ToArray();
        int[] pyramidStrides = [.. strides, strides[^1] * 2];

        var fpn = new FeaturePyramid(levels.Select(l => l.Channels).ToArray(), architecture.PyramidChannels);
        var anchors = new AnchorGenerator(architecture.AnchorSizes, architecture.AspectRatios);
        var rpn = new RegionProposalNetwork(new RpnHead(architecture.PyramidChannels, anchors.AnchorsPerLocation), anchors, pyramidStrides, architecture.Rpn);
        var roiHeads = new RoiHeads(
            new BoxHead(architecture.PyramidChannels, architecture.HeadConvChannels, architecture.BoxHeadFcDim, vlm.EmbeddingDim),
            new MaskHead(architecture.PyramidChannels, architecture.HeadConvChannels, architecture.MaskPixelChannels),
            new RegionTextClassifier(vlm.EmbeddingDim),
            strides, architecture.RoiHeads);
        return new DetectorHead(fpn, rpn, roiHeads);
    }
}
