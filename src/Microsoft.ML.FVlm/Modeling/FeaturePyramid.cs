using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// Feature pyramid network (Lin et al., 2017) on the frozen tower's C2..C5: 1x1 lateral convs,
/// a top-down path with nearest-neighbour upsampling, 3x3 output convs, each followed by batch
/// norm as in F-VLM, and P6 as a stride-2 subsampling of P5. Output: P2..P6, all of
/// <c>channels</c> channels, strides 4, 8, 16, 32, 64.
/// </summary>
internal sealed class FeaturePyramid : Module<Tensor[], Tensor[]>
{
    [ComponentName(Name = "lateral")]
    private readonly ModuleList<Sequential> _lateral = new();
    [ComponentName(Name = "output")]
    private readonly ModuleList<Sequential> _output = new();

    /// <param name="inChannels">Channels of C2..C5, fine to coarse.</param>
    /// <param name="channels">Channels of every pyramid level.</param>
    public FeaturePyramid(IReadOnlyList<int> inChannels, int channels) : base(nameof(FeaturePyramid))
    {
        foreach (int c in inChannels)
        {
            _lateral.Add(Sequential(Conv2d(c, channels, 1, bias: false), BatchNorm2d(channels)));
            _output.Add(Sequential(Conv2d(channels, channels, 3, padding: 1, bias: false), BatchNorm2d(channels)));
        }
        Channels = channels;
        RegisterComponents();
    }

    /// <summary>Channels of every output level.</summary>
    public int Channels { get; }

    /// <param name="features">C2..C5: [N, C_i, H / s_i, W / s_i].</param>
    /// <returns>P2..P6: [N, channels, H / s, W / s] for s = 4, 8, 16, 32, 64.</returns>
    public override Tensor[] forward(Tensor[] features)
    {
        if (features.Length != _lateral.Count)
            throw new ArgumentException($"The pyramid expects {_lateral.Count} feature maps; got {features.Length}.", nameof(features));
        using var scope = NewDisposeScope();
        var results = new Tensor[features.Length + 1];
        Tensor topDown = _lateral[^1].forward(features[^1]);
        results[features.Length - 1] = _output[^1].forward(topDown);
        for (int i = features.Length - 2; i >= 0; i--)
        {
            var lat = _lateral[i].forward(features[i]);
            var upsampled = functional.interpolate(topDown, size: [lat.shape[2], lat.shape[3]], mode: InterpolationMode.Nearest);
            topDown = lat + upsampled;
            results[i] = _output[i].forward(topDown);
        }
        results[^1] = functional.max_pool2d(results[^2], kernel_size: 1, stride: 2);
        foreach (var r in results) r.MoveToOuterDisposeScope();
        return results;
    }

    /// <summary>
    /// Adds what <see cref="forward"/> computes in evaluation mode to <paramref name="graph"/>, each batch norm folded into
    /// its conv (<see cref="OnnxModules.ConvBatchNorm"/>). The top-down upsampling is ONNX Resize in nearest mode with
    /// asymmetric coordinates and floor rounding, which is PyTorch's nearest interpolation.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="features">The values C2..C5 ([N, C_i, H / s_i, W / s_i]).</param>
    /// <returns>The values P2..P6.</returns>
    public string[] Export(OnnxGraphBuilder graph, IReadOnlyList<string> features)
    {
        if (features.Count != _lateral.Count)
            throw new ArgumentException($"The pyramid expects {_lateral.Count} feature maps; got {features.Count}.", nameof(features));
        int last = features.Count - 1;
        var results = new string[features.Count + 1];
        string topDown = graph.ConvBatchNorm($"fpn.lateral{last}", _lateral[last].state_dict(), "0", "1", features[last], padding: 0);
        results[last] = graph.ConvBatchNorm($"fpn.output{last}", _output[last].state_dict(), "0", "1", topDown, padding: 1);
        for (int i = last - 1; i >= 0; i--)
        {
            string lateral = graph.ConvBatchNorm($"fpn.lateral{i}", _lateral[i].state_dict(), "0", "1", features[i], padding: 0);
            string batchAndChannels = graph.Node("Shape", $"fpn.upsample{i}.leading", [topDown], ("end", 2L));
            string size = graph.Node("Shape", $"fpn.upsample{i}.size", [lateral], ("start", 2L));
            string sizes = graph.Node("Concat", $"fpn.upsample{i}.sizes", [batchAndChannels, size], ("axis", 0L));
            string upsampled = graph.Node("Resize", $"fpn.upsample{i}", [topDown, "", "", sizes],
                ("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor"));
            topDown = graph.Node("Add", $"fpn.topdown{i}", [lateral, upsampled]);
            results[i] = graph.ConvBatchNorm($"fpn.output{i}", _output[i].state_dict(), "0", "1", topDown, padding: 1);
        }
        results[^1] = graph.Node("MaxPool", "fpn.p6", [results[^2]], ("kernel_shape", new long[] { 1, 1 }), ("strides", new long[] { 2, 2 }));
        return results;
    }
}
