using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// The RoI box head of F-VLM: four 3x3 convs (batch norm, ReLU) and one fully connected layer on
/// pooled region features, then two outputs: a region embedding in the text embedding space
/// (linear, no bias) for open-vocabulary classification, and class-agnostic box deltas.
/// </summary>
internal sealed class BoxHead : Module<Tensor, (Tensor Embeddings, Tensor Deltas)>
{
    [ComponentName(Name = "convs")]
    private readonly Sequential _convs;
    [ComponentName(Name = "fc")]
    private readonly Linear _fc;
    [ComponentName(Name = "embedding")]
    private readonly Linear _embedding;
    [ComponentName(Name = "deltas")]
    private readonly Linear _deltas;

    /// <summary>Side of the features the box head reads, pooled per box (Mask R-CNN's 7x7).</summary>
    public const int PoolSize = 7;

    /// <param name="channels">Channels of the pooled features (the pyramid's).</param>
    /// <param name="convChannels">Channels of the four convs.</param>
    /// <param name="fcDim">Width of the fully connected layer.</param>
    /// <param name="embeddingDim">D: the text embedding dimension.</param>
    public BoxHead(int channels, int convChannels, int fcDim, int embeddingDim) : base(nameof(BoxHead))
    {
        _convs = ConvStack.Create(channels, convChannels);
        _fc = Linear(convChannels * PoolSize * PoolSize, fcDim);
        _embedding = Linear(fcDim, embeddingDim, hasBias: false);
        _deltas = Linear(fcDim, 4);
        init.normal_(_deltas.weight!, std: 0.001);
        init.zeros_(_deltas.bias!);
        RegisterComponents();
    }

    /// <param name="pooled">[R, channels, <see cref="PoolSize"/>, <see cref="PoolSize"/>].</param>
    /// <returns>Region embeddings [R, D] (not normalised) and deltas [R, 4].</returns>
    public override (Tensor Embeddings, Tensor Deltas) forward(Tensor pooled)
    {
        using var scope = NewDisposeScope();
        var hidden = functional.relu(_fc.forward(_convs.forward(pooled).flatten(1)));
        return (_embedding.forward(hidden).MoveToOuterDisposeScope(), _deltas.forward(hidden).MoveToOuterDisposeScope());
    }

    /// <summary>Adds what <see cref="forward"/> computes to <paramref name="graph"/>, each batch norm folded into its conv: the embeddings [R, D] and deltas [R, 4] values.</summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="pooled">The value [R, channels, <see cref="PoolSize"/>, <see cref="PoolSize"/>].</param>
    public (string Embeddings, string Deltas) Export(OnnxGraphBuilder graph, string pooled)
    {
        string features = graph.Node("Flatten", "box_head.flatten", [graph.ConvStack("box_head.convs", _convs, pooled)], ("axis", 1L));
        string hidden = graph.Node("Relu", "box_head.fc.relu", [graph.Linear("box_head.fc", features, _fc.weight!, _fc.bias)]);
        return (graph.Linear("box_head.embedding", hidden, _embedding.weight!, null), graph.Linear("box_head.deltas", hidden, _deltas.weight!, _deltas.bias));
    }
}
