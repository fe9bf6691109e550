using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// Trains a <see cref="DetectorHead"/> on a frozen VLM's features from an IDataView of images and
/// base-category annotations, streaming the rows epoch after epoch (shuffled where the view can
/// shuffle). Each image's frozen features are computed once per augmentation variant and cached.
/// </summary>
internal sealed class DetectorTrainer
{
    private readonly FrozenVlm _vlm;
    private readonly TrainingSettings _settings;
    private readonly TrainingColumns _columns;
    private readonly Dictionary<ulong, (int Height, int Width)> _imageSizes = new();
    private long _featuresFromCache, _featuresComputed;
    private int _rowsInLastEpoch;

    public DetectorTrainer(FrozenVlm vlm, TrainingSettings settings, TrainingColumns columns)
    {
        if (settings.ImageSize % vlm.Manifest.ImageEncoder.SizeMultiple != 0)
            throw new ArgumentException($"ImageSize ({settings.ImageSize}) must be a multiple of the VLM's size multiple ({vlm.Manifest.ImageEncoder.SizeMultiple}).");
        if (settings.BatchSize <= 0) throw new ArgumentException($"BatchSize must be positive; got {settings.BatchSize}.");
        if (settings.Steps <= 0) throw new ArgumentException($"Steps must be positive; got {settings.Steps}.");
        if (settings.AugmentationVariants <= 0) throw new ArgumentException($"AugmentationVariants must be positive; got {settings.AugmentationVariants}.");
        (_vlm, _settings, _columns) = (vlm, settings, columns);
    }

    /// <summary>Trains <paramref name="head"/> in place on <paramref name="data"/>; class k of the text embeddings is key k + 1 of the label column.</summary>
    /// <param name="head">The head to train (on <see cref="TrainingSettings.Device"/>).</param>
    /// <param name="data">Rows with the image, label, box and (optionally) mask columns.</param>
    /// <param name="classNames">The label column's key values: the base vocabulary.</param>
    /// <param name="progress">Called after every step.</param>
    /// <param name="cancellation">Stops training between steps.</param>
    public void Train(DetectorHead head, IDataView data, IReadOnlyList<string> classNames, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        var device = torch.device(_settings.Device);
        head.to(device);
        using var textEmbeddings = _vlm.TextEmbeddings.Get(classNames).to(device);
        var jitter = new LargeScaleJitter(_settings.ImageSize, _settings.MinJitterScale, _settings.MaxJitterScale, _settings.HorizontalFlip, _settings.Seed);
        using var cache = new FeatureCache(_settings.CacheFeatures ? _settings.CacheMemoryBytes : 0, _settings.CacheFeatures ? _settings.CacheFolder : null);
        using var optimizer = optim.SGD(head.parameters(), _settings.LearningRate, momentum: _settings.Momentum, weight_decay: _settings.WeightDecay);

        var position = new TrainingPosition(0, 0, 0);
        if (_settings.ResumeFrom is { } checkpoint)
            position = Checkpoint.Load(checkpoint, head, optimizer);

        head.train();
        var clock = Stopwatch.StartNew();
        int startStep = position.Step, images = 0;
        while (position.Step < _settings.Steps)
        {
            bool progressed = false;
            foreach (var batch in Batches(data, position.Epoch, position.RowsConsumed, cache))
            {
                cancellation.ThrowIfCancellationRequested();
                Dictionary<string, float> losses;
                double gradientNorm;
                using (NativeCallGuard.Enter())
                    (losses, gradientNorm) = Step(head, optimizer, batch, jitter, cache, textEmbeddings, position.Step);
                progressed = true;
                images += batch.Count;
                position = position with { Step = position.Step + 1, RowsConsumed = position.RowsConsumed + batch.Count };
                Report(progress, position.Step, losses, gradientNorm, images, clock, startStep);
                if (_settings.CheckpointEvery > 0 && position.Step % _settings.CheckpointEvery == 0 && _settings.CheckpointFolder is { } folder)
                    Checkpoint.Save(Path.Combine(folder, $"checkpoint-{position.Step:D7}.bin"), head, optimizer, position);
                if (position.Step >= _settings.Steps) break;
            }
            if (!progressed && position.RowsConsumed == 0)
                throw new InvalidOperationException(_rowsInLastEpoch == 0
                    ? "The training data has no rows."
                    : $"BatchSize ({_settings.BatchSize}) is larger than the number of training rows ({_rowsInLastEpoch}); lower it.");
            if (position.Step < _settings.Steps) position = new TrainingPosition(position.Step, position.Epoch + 1, 0);
        }
        head.eval();
    }

    private (Dictionary<string, float> Losses, double GradientNorm) Step(DetectorHead head, optim.Optimizer optimizer, List<TrainingRow> batch, LargeScaleJitter jitter,
        FeatureCache cache, Tensor textEmbeddings, int step)
    {
        using var scope = NewDisposeScope();
        var device = textEmbeddings.device;
        var features = new Tensor[batch.Count][];
        var sizes = new (long, long)[batch.Count];
        var targets = new DetectionTarget[batch.Count];
        var misses = new List<int>();
        var variants = new int[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            variants[i] = VariantOf(batch[i].RowId, batch[i].Epoch);
            features[i] = batch[i].Image is null ? cache.TryGet(batch[i].RowId, variants[i])! : null!;
            if (features[i] is null) misses.Add(i);
        }
        _featuresFromCache += batch.Count - misses.Count;
        _featuresComputed += misses.Count;
        bool withPixels = head.RoiHeads.MasksUsePixels;
        if (misses.Count > 0) ComputeFeatures(batch, misses, variants, jitter, cache, features, withPixels);

        for (int i = 0; i < batch.Count; i++)
        {
            var row = batch[i];
            var (sourceHeight, sourceWidth) = _imageSizes[row.RowId];
            var (transform, height, width) = jitter.Sample(row.RowId, variants[i], sourceHeight, sourceWidth);
            sizes[i] = (height, width);
            var augmented = AugmentedTargets.Create(row.Boxes, row.Classes, row.Masks, sourceHeight, sourceWidth, transform, height, width, _settings.ImageSize);
            targets[i] = new DetectionTarget(
                tensor(augmented.Boxes, [augmented.Count, 4]).to(device),
                tensor(augmented.Classes).to(device),
                augmented.Masks is null ? null : tensor(augmented.Masks, [augmented.Count, _settings.ImageSize, _settings.ImageSize]).to(device));
        }

        // With a pixel branch, each cached entry holds the augmented canvas after the tower's levels.
        int levels = features[0].Length;
        var stacked = Enumerable.Range(0, levels).Select(l => cat(features.Select(f => f[l]).ToArray(), 0).to(device)).ToArray();
        var pixels = withPixels ? stacked[^1] : null;
        if (withPixels) stacked = stacked[..^1];
        optimizer.zero_grad();
        using var generator = new Generator(SplitMix.Hash((ulong)_settings.Seed * 7919 + (ulong)step));
        var output = head.forward(new DetectorInput(stacked, sizes, textEmbeddings, targets, generator, pixels));
        var values = new Dictionary<string, float>();
        foreach (var (name, loss) in output.Losses!)
        {
            float value = loss.item<float>();
            if (!float.IsFinite(value))
                throw new InvalidOperationException($"Training stopped at step {step + 1}: loss '{name}' is {value}. Lower the learning rate (now {_settings.LearningRateAt(step)}) or check the boxes of the training data.");
            values[name] = value;
        }
        var total = output.Losses.Select(l => l.Value * LossWeight(l.Key)).Aggregate((a, b) => a + b);
        total.backward();
        double gradientNorm = GradientNorm(head, _settings.GradientClipNorm);
        if (!double.IsFinite(gradientNorm))
            throw new InvalidOperationException($"Training stopped at step {step + 1}: the gradient norm is {gradientNorm} (losses {string.Join(", ", values.Select(v => $"{v.Key} {v.Value}"))}). Lower the learning rate (now {_settings.LearningRateAt(step)}).");
        foreach (var group in optimizer.ParamGroups) group.LearningRate = _settings.LearningRateAt(step);
        optimizer.step();
        values["total"] = (float)values.Sum(v => v.Value * LossWeight(v.Key));
        return (values, gradientNorm);
    }

    private void ComputeFeatures(List<TrainingRow> batch, List<int> misses, int[] variants, LargeScaleJitter jitter, FeatureCache cache, Tensor[][] features, bool withPixels)
    {
        using var scope = NewDisposeScope();
        int side = _settings.ImageSize, plane = side * side;
        var pixels = zeros(misses.Count, 3, side, side);
        for (int m = 0; m < misses.Count; m++)
        {
            var row = batch[misses[m]];
            var image = row.Image ?? throw new InvalidOperationException($"Column '{_columns.Image}' has no image in row {row.RowId}.");
            _imageSizes[row.RowId] = (image.Height, image.Width);
            var (transform, height, width) = jitter.Sample(row.RowId, variants[misses[m]], image.Height, image.Width);
            var destination = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(pixels.bytes).Slice(m * 3 * plane, 3 * plane);
            _vlm.Preprocessor.Render(image, transform, height, width, side, destination);
            image.Dispose();
        }
        Tensor[] encoded;
        using (no_grad()) encoded = _vlm.EncodeImages(pixels);
        for (int m = 0; m < misses.Count; m++)
        {
            var levels = encoded.Select(e => e[m..(m + 1)]).ToArray();
            if (withPixels) levels = [.. levels, pixels[m..(m + 1)]];
            if (_settings.CacheFeatures) cache.Add(batch[misses[m]].RowId, variants[misses[m]], levels);
            // Always train on float16-rounded features, as the cache holds them: a run's weights then
            // do not depend on what was cached when (resuming, cache size, cache off).
            features[misses[m]] = levels.Select(l => l.to(ScalarType.Float16).to(ScalarType.Float32).MoveToOuterDisposeScope()).ToArray();
        }
    }

    /// <summary>Weight of a named loss in the total: <see cref="TrainingSettings.MaskLossWeight"/> for the mask loss, 1 for the others.</summary>
    private double LossWeight(string name) => name == "mask" ? _settings.MaskLossWeight : 1.0;

    /// <summary>The global L2 norm of the head's gradients; rescales them to at most <paramref name="maxNorm"/> when it is positive.</summary>
    private static double GradientNorm(DetectorHead head, double maxNorm)
    {
        var parameters = head.parameters().Where(p => p.grad is not null).ToArray();
        if (maxNorm > 0) return nn.utils.clip_grad_norm_(parameters, maxNorm);
        using var scope = NewDisposeScope();
        return Math.Sqrt(parameters.Sum(p => p.grad!.pow(2).sum().item<float>()));
    }

    private int VariantOf(ulong rowId, int epoch) =>
        (int)(SplitMix.Hash(SplitMix.Hash((ulong)_settings.Seed ^ rowId) + (ulong)epoch) % (ulong)_settings.AugmentationVariants);

    private IEnumerable<List<TrainingRow>> Batches(IDataView data, int epoch, int skip, FeatureCache cache)
    {
        var reader = new TrainingRowReader(data, _columns);
        var batch = new List<TrainingRow>(_settings.BatchSize);
        int index = 0;
        // Images are decoded only for rows whose (row, variant) features are not cached yet.
        bool NeedsImage(ulong rowId) => !_settings.CacheFeatures || !cache.Contains(rowId, VariantOf(rowId, epoch));
        _rowsInLastEpoch = 0;
        foreach (var row in reader.Read(new Random(unchecked(_settings.Seed * 1_000_003 + epoch)), epoch, NeedsImage))
        {
            _rowsInLastEpoch++;
            if (index++ < skip) continue;
            batch.Add(row);
            if (batch.Count == _settings.BatchSize)
            {
                yield return batch;
                batch = new List<TrainingRow>(_settings.BatchSize);
            }
        }
        // The last partial batch of an epoch is dropped, so every step sees a full batch.
    }

    private void Report(IProgress<TrainingProgress>? progress, int step, Dictionary<string, float> losses, double gradientNorm, int images, Stopwatch clock, int startStep)
    {
        if (progress is null) return;
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        double stepsPerSecond = (step - startStep) / seconds;
        var remaining = stepsPerSecond > 0 ? TimeSpan.FromSeconds((_settings.Steps - step) / stepsPerSecond) : TimeSpan.Zero;
        long lookups = _featuresFromCache + _featuresComputed;
        progress.Report(new TrainingProgress(step, _settings.Steps, losses, images / seconds, remaining, lookups == 0 ? 0 : (double)_featuresFromCache / lookups, gradientNorm));
    }
}

/// <summary>Where a run is: steps done, the epoch, and rows of that epoch already consumed.</summary>
internal sealed record TrainingPosition(int Step, int Epoch, int RowsConsumed);
