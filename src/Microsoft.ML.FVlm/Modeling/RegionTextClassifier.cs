using Microsoft.ML.FVlm.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchSharp.Utils;

namespace Microsoft.ML.FVlm.Modeling;

/// <summary>
/// F-VLM's open-vocabulary classifier: cosine similarity between region embeddings and
/// [a learned background embedding; the class text embeddings], divided by a temperature of
/// 0.01 times a learned positive scale. Index 0 of the output is background.
/// </summary>
internal sealed class RegionTextClassifier : Module<Tensor, Tensor, Tensor>
{
    /// <summary>The base temperature of region-text logits.</summary>
    public const double BaseTemperature = 0.01;

    [ComponentName(Name = "background")]
    private readonly Parameter _background;
    [ComponentName(Name = "log_scale")]
    private readonly Parameter _logScale;

    public RegionTextClassifier(int embeddingDim) : base(nameof(RegionTextClassifier))
    {
        _background = Parameter(randn(1, embeddingDim) / Math.Sqrt(embeddingDim));
        _logScale = Parameter(zeros(1));
        RegisterComponents();
    }

    /// <param name="regionEmbeddings">[R, D], any length.</param>
    /// <param name="textEmbeddings">[C, D], unit length (the frozen VLM's class embeddings).</param>
    /// <returns>[R, 1 + C] logits: background first, then the classes in order.</returns>
    public override Tensor forward(Tensor regionEmbeddings, Tensor textEmbeddings)
    {
        using var scope = NewDisposeScope();
        var classes = cat([functional.normalize(_background, dim: -1), textEmbeddings.to(regionEmbeddings.dtype)], 0);
        var cosine = functional.normalize(regionEmbeddings, dim: -1).matmul(classes.t());
        var temperature = BaseTemperature * exp(_logScale);
        return (cosine / temperature).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds what <see cref="forward"/> computes to <paramref name="graph"/>: the logits [R, 1 + C] value. The normalised
    /// background embedding and the temperature are constants of the graph, computed as <see cref="forward"/> computes them.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="regions">The value [R, D] of region embeddings.</param>
    /// <param name="text">The value [C, D] of unit text embeddings.</param>
    public string Export(OnnxGraphBuilder graph, string regions, string text)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        string background = graph.Weight("classifier.background", functional.normalize(_background, dim: -1));
        string classes = graph.Node("Concat", "classifier.classes", [background, text], ("axis", 0L));
        string transposed = graph.Node("Transpose", "classifier.classes.t", [classes], ("perm", new long[] { 1, 0 }));
        string cosine = graph.Node("MatMul", "classifier.cosine", [graph.Normalize("classifier.regions", regions), transposed]);
        return graph.Node("Div", "classifier.logits", [cosine, graph.Weight("classifier.temperature", BaseTemperature * exp(_logScale))]);
    }
}
