using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>The RoI heads' trunk: <c>depth</c> 3x3 convs, each followed by batch norm and ReLU.</summary>
internal static class ConvStack
{
    public static TorchSharp.Modules.Sequential Create(int inChannels, int channels, int depth = 4)
    {
        var layers = new List<Module<Tensor, Tensor>>();
        for (int i = 0; i < depth; i++)
        {
            layers.Add(Conv2d(i == 0 ? inChannels : channels, channels, 3, padding: 1, bias: false));
            layers.Add(BatchNorm2d(channels));
            layers.Add(ReLU());
        }
        return Sequential(layers);
    }
}
