using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// Class-agnostic mask head (Mask R-CNN): four 3x3 convs (batch norm, ReLU) on 14x14 pooled
/// features, a 2x2 stride-2 transposed conv to 28x28, and one logit per pixel.
/// </summary>
public sealed class MaskHead : Module<Tensor, Tensor>
{
    private readonly Sequential convs;
    private readonly ConvTranspose2d upsample;
    private readonly Conv2d logits;

    public MaskHead(int channels, int convChannels) : base(nameof(MaskHead))
    {
        convs = ConvStack.Create(channels, convChannels);
        upsample = ConvTranspose2d(convChannels, convChannels, 2, stride: 2);
        logits = Conv2d(convChannels, 1, 1);
        RegisterComponents();
    }

    /// <param name="pooled">[R, channels, 14, 14].</param>
    /// <returns>[R, 28, 28] mask logits.</returns>
    public override Tensor forward(Tensor pooled)
    {
        using var scope = NewDisposeScope();
        var hidden = functional.relu(upsample.forward(convs.forward(pooled)));
        return logits.forward(hidden).squeeze(1).MoveToOuterDisposeScope();
    }
}
