using Microsoft.ML.Data;
using Google.Protobuf;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Onnx;
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
/// <remarks>
/// Disposal: the transformer holds one share of the model's native resources (ONNX sessions, head
/// weights), plus one for every row mapper it hands out. ML.NET's <c>PredictionEngine</c> takes a row
/// mapper when it is created and disposes the transformer when it is disposed, so each engine returns
/// its own share, and engines made from one shared transformer on many threads can be created and
/// disposed in any order. The resources are freed when the last share is returned, and never while
/// a call (detection, saving) is running: a call holds a share of its own until it returns.
/// </remarks>
public sealed class FVlmTransformer : ITransformer, IDisposable
{
    private readonly FVlmModel _model;
    private readonly ScoringSettings _scoring;
    // The transformer's own share of the model, plus one per row mapper handed out (returned by Dispose).
    private int _handles = 1;

    /// <summary>A transformer of <paramref name="model"/> (taking a share of it) that scores <paramref name="vocabulary"/> with <paramref name="scoring"/>.</summary>
    internal FVlmTransformer(FVlmModel model, ScoringSettings scoring, Vocabulary vocabulary)
    {
        vocabulary.Validate();
        _model = model.Share();
        _scoring = scoring;
        Vocabulary = vocabulary;
    }

    /// <summary>The class names this transformer detects, and which are novel (weighed by beta).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The classes whose annotations trained the head.</summary>
    public IReadOnlyList<string> BaseClassNames => _model.BaseClassNames;

    /// <summary>Longest image side on the frozen encoder's canvas, in pixels (the training size).</summary>
    public int ImageSize => _model.ImageSize;

    /// <summary>The scales at which the frozen VLM embeds regions for its scores (<see cref="FVlmOptions.VlmRegionScales"/>).</summary>
    public Vlm.RegionScaling RegionScaling => _scoring.Inference.RegionScaling;

    /// <summary>The post-processing this transformer detects with (from its options): start from it to detect with another threshold.</summary>
    public InferenceSettings InferenceSettings => _scoring.Inference;

    internal FVlmModel Model => _model;

    internal ScoringSettings Scoring => _scoring;

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
        return new FVlmTransformer(_model, _scoring, new Vocabulary(classNames.ToArray(), isNovel.ToArray()));
    }

    /// <summary>
    /// A transformer that fuses detector and VLM scores by another method, sharing this one's model
    /// and vocabulary; saved, it keeps the method. A zip saved before format 0x00010006 loads with the
    /// fusion it was saved with (<see cref="FusionMethod.Unnormalised"/>): this turns it into F-VLM's
    /// reference, <c>WithFusion(FusionMethod.Reference)</c>.
    /// </summary>
    /// <param name="method">How to fuse, which boxes the VLM scores, and the objectness weight.</param>
    /// <exception cref="ArgumentOutOfRangeException">The method's objectness weight or boxes are out of range, naming the option.</exception>
    public FVlmTransformer WithFusion(FusionMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        FVlmOptionsValidator.Validate(method);
        return new FVlmTransformer(_model, _scoring with { Inference = _scoring.Inference with { Fusion = method } }, Vocabulary);
    }

    /// <summary>Detects the vocabulary in a batch of images directly, outside an IDataView.</summary>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images) => Detect(images, _scoring.Inference);

    /// <summary>Detects as <see cref="Detect(IReadOnlyList{MLImage})"/>, adding the time of each stage to <paramref name="timings"/>.</summary>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, InferenceTimings timings) => Detect(images, _scoring.Inference, timings);

    /// <summary>Detects as <see cref="Detect(IReadOnlyList{MLImage})"/> under other post-processing settings, for example <c>InferenceSettings with { ScoreThreshold = 0.01 }</c>.</summary>
    /// <param name="images">The images to detect in.</param>
    /// <param name="settings">Score threshold, NMS, detections kept, fusion weights, score source and region scaling.</param>
    /// <param name="timings">Adds the time of each stage, when given.</param>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, InferenceSettings settings, InferenceTimings? timings = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _handles) <= 0, this);
        using var lease = _model.Use();
        return _model.Graph.Detect(images, Vocabulary, settings, timings);
    }

    /// <summary>
    /// Writes the fitted detector's whole inference for one image as an ONNX model that ONNX Runtime (or any engine
    /// of operator set 17) runs alone: the image as uint8 RGB of any size, the vocabulary as an input (the text
    /// embeddings and VLM weights of <see cref="ExportVocabulary"/>), boxes, scores, labels and mask probabilities
    /// out, with this transformer's inference settings (score source, fusion, thresholds, detections kept, region
    /// scales, masks). docs/deploy.md has the contract.
    /// </summary>
    /// <param name="path">The .onnx file to write (replaced if it exists).</param>
    public void ExportOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _handles) <= 0, this);
        using var lease = _model.Use();
        var graph = DetectorGraph.Build(_model.Vlm, _model.HeadGraphs, _model.ImageSize, _scoring.Inference);
        string temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            graph.WriteTo(stream);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// Writes the vocabulary's inputs of the graph of <see cref="ExportOnnx"/> as NumPy files in
    /// <paramref name="folder"/>: <c>text_embeddings.npy</c>, float32 [K, D], the prompt-ensembled unit text
    /// embeddings of <see cref="Vocabulary"/>; and <c>vlm_weights.npy</c>, float32 [K], the VLM's weight in the
    /// fusion per class (the base weight for a base class, the novel weight for a novel one).
    /// </summary>
    /// <param name="folder">The folder to write to (created if missing; the two files are replaced if they exist).</param>
    public void ExportVocabulary(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _handles) <= 0, this);
        using var lease = _model.Use();
        var (embeddings, shape) = DetectorGraph.TextEmbeddingsOf(_model.Vlm, Vocabulary.Names);
        var weights = DetectorGraph.VlmWeightsOf(Vocabulary, _scoring.Inference);
        Directory.CreateDirectory(folder);
        NpyFile.Write(Path.Combine(folder, DetectorGraph.TextEmbeddings + ".npy"), embeddings, shape);
        NpyFile.Write(Path.Combine(folder, DetectorGraph.VlmWeights + ".npy"), weights, weights.Length);
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Columns(inputSchema).OutputSchema;

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new DetectionDataView(input, Columns(input.Schema), images => Detect(images), _scoring.BatchSize);
    }

    /// <inheritdoc/>
    /// <remarks>Each call takes a share of the model that one call of <see cref="Dispose"/> returns (as a <c>PredictionEngine</c> does).</remarks>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        var mapper = new DetectionRowMapper(Columns(inputSchema), images => Detect(images));
        int handles = Volatile.Read(ref _handles);
        while (true)
        {
            ObjectDisposedException.ThrowIf(handles <= 0, this);
            int seen = Interlocked.CompareExchange(ref _handles, handles + 1, handles);
            if (seen == handles) return mapper;
            handles = seen;
        }
    }

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) => FVlmModelFormat.Save(ctx, this);

    private DetectionColumns Columns(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new DetectionColumns(inputSchema, _scoring.Columns, Vocabulary.Names);
    }

    /// <summary>
    /// Returns one share: the share of a row mapper handed out (a <c>PredictionEngine</c> made from this
    /// transformer disposes it), or finally the transformer's own. With the last one, the transformer's
    /// share of the model goes (ONNX sessions and head weights go with the model's last share, after
    /// the calls in flight). Calls beyond the shares held do nothing.
    /// </summary>
    public void Dispose()
    {
        int handles = Volatile.Read(ref _handles);
        while (handles > 0)
        {
            int seen = Interlocked.CompareExchange(ref _handles, handles - 1, handles);
            if (seen == handles)
            {
                if (handles == 1) _model.Release();
                return;
            }
            handles = seen;
        }
    }
}
