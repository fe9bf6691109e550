using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// Class-agnostic mask head (Mask R-CNN): four 3x3 convs (batch norm, ReLU) on 14x14 pooled
/// features, a 2x2 stride-2 transposed conv to 28x28, and one logit per pixel. With a pixel branch
/// (<c>pixelChannels</c> &gt; 0), the canvas pixels under the box, resampled to 28x28, go through a
/// 3x3 conv and are fused with the upsampled features by a 1x1 conv before the logits: the pyramid's
/// finest level has a stride of 4, coarser than the strokes of thin and outlined objects.
/// </summary>
internal sealed class MaskHead : Module<Tensor, Tensor>
{
    [ComponentName(Name = "convs")]
    private readonly Sequential _convs;
    [ComponentName(Name = "upsample")]
    private readonly ConvTranspose2d _upsample;
    [ComponentName(Name = "pixel_conv")]
    private readonly Conv2d? _pixelConv;
    [ComponentName(Name = "fuse")]
    private readonly Conv2d? _fuse;
    [ComponentName(Name = "logits")]
    private readonly Conv2d _logits;

    public MaskHead(int channels, int convChannels, int pixelChannels = 0) : base(nameof(MaskHead))
    {
        _convs = ConvStack.Create(channels, convChannels);
        _upsample = ConvTranspose2d(convChannels, convChannels, 2, stride: 2);
        if (pixelChannels > 0)
        {
            _pixelConv = Conv2d(3, pixelChannels, 3, padding: 1);
            _fuse = Conv2d(convChannels + pixelChannels, convChannels, 1);
        }
        _logits = Conv2d(convChannels, 1, 1);
        RegisterComponents();
    }

    /// <summary>True when the head reads the canvas pixels under each box (<see cref="Forward"/>'s <c>pixels</c>).</summary>
    public bool UsesPixels => _pixelConv is not null;

    /// <param name="pooled">[R, channels, 14, 14].</param>
    /// <returns>[R, 28, 28] mask logits.</returns>
    public override Tensor forward(Tensor pooled) => Forward(pooled, null);

    /// <param name="pooled">[R, channels, 14, 14].</param>
    /// <param name="pixels">[R, 3, 28, 28] the canvas pixels under each box; required when <see cref="UsesPixels"/>.</param>
    /// <returns>[R, 28, 28] mask logits.</returns>
    public Tensor Forward(Tensor pooled, Tensor? pixels)
    {
        using var scope = NewDisposeScope();
        var hidden = functional.relu(_upsample.forward(_convs.forward(pooled)));
        if (_pixelConv is not null)
        {
            if (pixels is null) throw new InvalidOperationException("This mask head has a pixel branch: it needs the canvas pixels under each box.");
            hidden = functional.relu(_fuse!.forward(cat([hidden, functional.relu(_pixelConv.forward(pixels))], 1)));
        }
        return _logits.forward(hidden).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds what <see cref="Forward"/> computes to <paramref name="graph"/>, each batch norm folded into its conv: the
    /// mask logits [R, 28, 28] value. The transposed conv is ONNX ConvTranspose, whose kernel layout [C_in, C_out, kH, kW]
    /// is PyTorch's.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="pooled">The value [R, channels, 14, 14].</param>
    /// <param name="pixels">The value [R, 3, 28, 28] of canvas pixels under each box; required when <see cref="UsesPixels"/>.</param>
    public string Export(OnnxGraphBuilder graph, string pooled, string? pixels)
    {
        string features = graph.ConvStack("mask_head.convs", _convs, pooled);
        string upsampled = graph.Node("ConvTranspose", "mask_head.upsample",
            [features, graph.Weight("mask_head.upsample.weight", _upsample.weight!), graph.Weight("mask_head.upsample.bias", _upsample.bias!)],
            ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        string hidden = graph.Node("Relu", "mask_head.upsample.relu", [upsampled]);
        if (_pixelConv is not null)
        {
            if (pixels is null) throw new InvalidOperationException("This mask head has a pixel branch: its graph needs the canvas pixels under each box.");
            string pixelFeatures = graph.Node("Relu", "mask_head.pixel_conv.relu", [graph.Conv("mask_head.pixel_conv", pixels, _pixelConv.weight!, _pixelConv.bias, padding: 1)]);
            string joined = graph.Node("Concat", "mask_head.join", [hidden, pixelFeatures], ("axis", 1L));
            hidden = graph.Node("Relu", "mask_head.fuse.relu", [graph.Conv("mask_head.fuse", joined, _fuse!.weight!, _fuse.bias, padding: 0)]);
        }
        string logits = graph.Conv("mask_head.logits", hidden, _logits.weight!, _logits.bias, padding: 0);
        return graph.Node("Squeeze", "mask_head.squeeze", [logits, graph.Int64s("mask_head.channel_axis", 1)]);
    }
}
