using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.Training;
using Microsoft.ML.FVlm.Vlm;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.FVlm;

/// <summary>
/// Trains F-VLM's detector head on a frozen VLM's features. <see cref="Fit"/> streams the images and
/// base-category annotations of the input (columns of ML.NET's object-detection trainer) and
/// returns an <see cref="FVlmTransformer"/> that detects the base classes plus any free-text class.
/// Made by <c>mlContext.Transforms.DetectObjectsOpenVocabulary(...)</c>.
/// </summary>
public sealed class FVlmEstimator : IEstimator<FVlmTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly FVlmOptions _options;

    internal FVlmEstimator(IHostEnvironment env, FVlmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        // A copy, validated once: changing the caller's object later changes neither this estimator nor what it fits
        // (the transformer keeps this copy), as ML.NET's estimators and transformers are fixed once made.
        _options = options.Copy();
        FVlmOptionsValidator.Validate(_options);
    }

    /// <summary>
    /// Reports training progress once per step (loss, step, images per second, time left); not saved
    /// with the model. ML.NET's log receives the same figures every 20 steps.
    /// </summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Trains the head and returns the detector.</summary>
    public FVlmTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        InputColumns.Check(SchemaShapeColumns.FromSchema(input.Schema), _options);
        var classNames = InputColumns.ClassNames(input.Schema, _options.LabelColumnName);
        var vocabulary = new Vocabulary(
            [.. classNames, .. _options.NovelClassNames],
            [.. classNames.Select(_ => false), .. _options.NovelClassNames.Select(_ => true)]);
        // Checked before training, not after it: a novel name must not also be a base class, to CLIP's tokenizer.
        if (Vocabulary.FindSameToClip(vocabulary.Names) is var (first, second) && first < classNames.Count && second >= classNames.Count)
        {
            string novel = vocabulary.Names[second], baseName = classNames[first];
            string spelling = novel == baseName ? "" : $"'{baseName}', ";
            throw new ArgumentException($"NovelClassNames: '{novel}' is already a base class ({spelling}a key value of column '{_options.LabelColumnName}'). "
                + "Remove it from NovelClassNames, or keep its category out of the training data's key space (CocoLoaderOptions.CategoryIds).", nameof(FVlmOptions.NovelClassNames));
        }
        vocabulary.Validate();
        using var log = MLNetEnvironment.Log(_env, nameof(FVlmEstimator));

        var vlm = FrozenVlm.Load(_options.VlmFolder, new VlmSessionOptions { GpuDeviceId = _options.GpuDeviceId, FallbackToCpu = _options.FallbackToCpu });
        try
        {
            var architecture = FVlmOptionsValidator.Architecture(_options);
            TorchSharp.torch.manual_seed(_options.Seed);
            var head = DetectorFactory.Create(vlm.Manifest, architecture);
            var trainer = new DetectorTrainer(vlm, FVlmOptionsValidator.Training(_options), new TrainingColumns(
                _options.ImageColumnName, _options.LabelColumnName, _options.BoundingBoxColumnName,
                _options.MaskColumnName is { } masks && input.Schema.GetColumnOrNull(masks) is not null ? masks : null));
            var progress = new ProgressRelay(log, Progress);
            trainer.Train(head, input, classNames, progress);
            log.Info($"Trained the detector head for {_options.Steps} steps on {classNames.Count} base classes.");

            FVlmModel model;
            try
            {
                model = new FVlmModel(vlm, head, architecture, classNames, _options.ImageSize, _options.Device);
            }
            catch
            {
                head.Dispose();
                throw;
            }
            return new FVlmTransformer(model, FVlmOptionsValidator.Scoring(_options), vocabulary);
        }
        catch
        {
            vlm.Dispose();
            throw;
        }
    }

    /// <summary>The input's columns plus the output columns (types only).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        InputColumns.Check(inputSchema, _options);
        var columns = inputSchema.ToDictionary(c => c.Name);
        var keyValues = new SchemaShape([SchemaShapeColumns.Vector(SchemaShapeColumns.KeyValuesAnnotation, TextDataViewType.Instance)]);
        void Add(SchemaShape.Column column) => columns[column.Name] = column;
        Add(SchemaShapeColumns.VariableVector(_options.PredictedLabelColumnName, NumberDataViewType.UInt32, isKey: true, keyValues));
        Add(SchemaShapeColumns.VariableVector(_options.ScoreColumnName, NumberDataViewType.Single));
        Add(SchemaShapeColumns.VariableVector(_options.PredictedBoundingBoxColumnName, NumberDataViewType.Single));
        Add(SchemaShapeColumns.VariableVector(_options.PredictedMaskColumnName, TextDataViewType.Instance));
        if (_options.AddDetectionScoreColumn) Add(SchemaShapeColumns.VariableVector(DetectionColumns.DetectionScoreColumnName, NumberDataViewType.Single));
        if (_options.AddVlmScoreColumn) Add(SchemaShapeColumns.VariableVector(DetectionColumns.VlmScoreColumnName, NumberDataViewType.Single));
        return new SchemaShape(columns.Values);
    }

    /// <summary>Forwards per-step progress to the caller and, every 20 steps, to ML.NET's log.</summary>
    private sealed class ProgressRelay(MLNetEnvironment.ComponentLog log, IProgress<TrainingProgress>? user) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            user?.Report(value);
            if (value.Step % 20 == 0 || value.Step == value.Steps)
                log.Info($"step {value.Step}/{value.Steps}: loss {value.Losses["total"]:F4}, {value.ImagesPerSecond:F1} images/s, {value.Remaining:hh\\:mm\\:ss} left, cache hits {value.CacheHitRate:P0}");
        }
    }
}
