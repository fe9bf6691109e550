using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The region proposal network's head, shared across pyramid levels: a 3x3 conv and ReLU, then
/// per location A objectness logits and 4A box deltas (A anchors per location).
/// </summary>
internal sealed class RpnHead : Module<Tensor[], (Tensor[] Objectness, Tensor[] Deltas)>
{
    [ComponentName(Name = "conv")]
    private readonly Conv2d _conv;
    [ComponentName(Name = "objectness")]
    private readonly Conv2d _objectness;
    [ComponentName(Name = "deltas")]
    private readonly Conv2d _deltas;

    public RpnHead(int channels, int anchorsPerLocation) : base(nameof(RpnHead))
    {
        _conv = Conv2d(channels, channels, 3, padding: 1);
        _objectness = Conv2d(channels, anchorsPerLocation, 1);
        _deltas = Conv2d(channels, anchorsPerLocation * 4, 1);
        foreach (var layer in new[] { _conv, _objectness, _deltas })
        {
            init.normal_(layer.weight!, std: 0.01);
            init.zeros_(layer.bias!);
        }
        RegisterComponents();
    }

    /// <param name="levels">P2..P6.</param>
    /// <returns>Per level: objectness [N, H * W * A] and deltas [N, H * W * A, 4], ordered as the anchors.</returns>
    public override (Tensor[] Objectness, Tensor[] Deltas) forward(Tensor[] levels)
    {
        var logits = new Tensor[levels.Length];
        var boxDeltas = new Tensor[levels.Length];
        for (int i = 0; i < levels.Length; i++)
        {
            using var scope = NewDisposeScope();
            var hidden = functional.relu(_conv.forward(levels[i]));
            long n = levels[i].shape[0];
            // [N, A, H, W] -> [N, H, W, A] -> [N, H * W * A], matching the anchor order (row, column, ratio).
            logits[i] = _objectness.forward(hidden).permute(0, 2, 3, 1).reshape(n, -1).MoveToOuterDisposeScope();
            var d = _deltas.forward(hidden);
            boxDeltas[i] = d.view(n, -1, 4, d.shape[2], d.shape[3]).permute(0, 3, 4, 1, 2).reshape(n, -1, 4).MoveToOuterDisposeScope();
        }
        return (logits, boxDeltas);
    }
}
