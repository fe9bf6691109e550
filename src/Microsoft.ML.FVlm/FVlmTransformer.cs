using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm;

/// <summary>
/// The fitted F-VLM detector as an ML.NET transformer: it adds, for every image of the input,
/// <c>PredictedLabel</c> (variable-length key vector whose key values are the vocabulary),
/// <c>Score</c> (fused scores), <c>PredictedBoundingBoxes</c> (x0 y0 x1 y1 pixels, 4 per detection)
/// and <c>PredictedMasks</c> (one COCO compressed RLE per detection, at image size). Scoring is lazy
/// and batched; the vocabulary can change without retraining (<see cref="WithVocabulary"/>).
/// Thread-safe. Saved and loaded with <c>mlContext.Model.Save</c> / <c>Load</c>.
/// </summary>
public sealed class FVlmTransformer : ITransformer, IDisposable
{
    private readonly FVlmModel _model;
    private readonly FVlmOptions _options;
    private readonly InferenceSettings _settings;
    private bool _disposed;

    internal FVlmTransformer(FVlmModel model, FVlmOptions options, Vocabulary vocabulary)
    {
        vocabulary.Validate();
        _model = model.Share();
        _options = options;
        Vocabulary = vocabulary;
        _settings = new InferenceSettings
        {
            ScoreThreshold = options.ScoreThreshold,
            NmsThreshold = options.NmsThreshold,
            MaxDetections = options.MaxDetections,
            BaseVlmWeight = options.BaseVlmWeight,
            NovelVlmWeight = options.NovelVlmWeight,
            RegionScaling = options.RegionScaling(),
        };
    }

    /// <summary>The class names this transformer detects, and which are novel (weighed by beta).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The classes whose annotations trained the head.</summary>
    public IReadOnlyList<string> BaseClassNames => _model.BaseClassNames;

    /// <summary>Longest image side on the frozen encoder's canvas, in pixels (the training size).</summary>
    public int ImageSize => _model.Detector.ImageSize;

    /// <summary>The scales at which the frozen VLM embeds regions for its scores (<see cref="FVlmOptions.VlmRegionScales"/>).</summary>
    public Vlm.RegionScaling RegionScaling => _settings.RegionScaling;

    /// <summary>The post-processing this transformer detects with (from its options): start from it to detect with another threshold.</summary>
    public InferenceSettings InferenceSettings => _settings;

    internal FVlmModel Model => _model;

    internal FVlmOptions Options => _options;

    /// <summary>
    /// A transformer for another vocabulary, sharing this one's model (no retraining, and text
    /// embeddings already computed are reused).
    /// </summary>
    /// <param name="classNames">Free-text class names.</param>
    /// <param name="isNovel">Per name, whether it is novel; by default a name is novel unless it is a base class.</param>
    public FVlmTransformer WithVocabulary(IReadOnlyList<string> classNames, IReadOnlyList<bool>? isNovel = null)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var baseNames = new HashSet<string>(_model.BaseClassNames, StringComparer.Ordinal);
        isNovel ??= classNames.Select(n => !baseNames.Contains(n)).ToArray();
        return new FVlmTransformer(_model, _options, new Vocabulary(classNames.ToArray(), isNovel.ToArray()));
    }

    /// <summary>Detects the vocabulary in a batch of images directly, outside an IDataView.</summary>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images) => Detect(images, _settings);

    /// <summary>Detects as <see cref="Detect(IReadOnlyList{MLImage})"/>, adding the time of each stage to <paramref name="timings"/>.</summary>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, InferenceTimings timings) => Detect(images, _settings, timings);

    /// <summary>Detects as <see cref="Detect(IReadOnlyList{MLImage})"/> under other post-processing settings, for example <c>InferenceSettings with { ScoreThreshold = 0.01 }</c>.</summary>
    /// <param name="images">The images to detect in.</param>
    /// <param name="settings">Score threshold, NMS, detections kept, fusion weights, score source and region scaling.</param>
    /// <param name="timings">Adds the time of each stage, when given.</param>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, InferenceSettings settings, InferenceTimings? timings = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _model.Detector.Detect(images, Vocabulary, [settings], timings)[0];
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Columns(inputSchema).OutputSchema;

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new DetectionDataView(input, Columns(input.Schema), images => Detect(images), _options.InferenceBatchSize);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new DetectionRowMapper(Columns(inputSchema), images => Detect(images));

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) => FVlmModelFormat.Save(ctx, this);

    private DetectionColumns Columns(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new DetectionColumns(inputSchema, _options, Vocabulary.Names);
    }

    /// <summary>Releases this transformer's share of the model (ONNX sessions and head weights go with the last share).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Release();
    }
}
