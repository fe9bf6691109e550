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
}
