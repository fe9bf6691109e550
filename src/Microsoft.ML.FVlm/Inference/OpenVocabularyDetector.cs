using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>A vocabulary: class names (free text) and which of them are novel (never annotated in training).</summary>
public sealed record Vocabulary(IReadOnlyList<string> Names, IReadOnlyList<bool> IsNovel)
{
    /// <summary>A vocabulary with no base/novel split: every class is weighed as novel (beta), as F-VLM does for custom vocabularies.</summary>
    public static Vocabulary AllNovel(IReadOnlyList<string> names) => new(names, names.Select(_ => true).ToArray());

    /// <summary>
    /// Checks the flags (one per name) and the names: none empty, and no two that CLIP's tokenizer
    /// cannot tell apart (after its text cleaning: case, white space, HTML entities, full-width
    /// forms), which would share one embedding and split one object's score between them.
    /// </summary>
    /// <exception cref="ArgumentException">Names the offending class names and their positions.</exception>
    public void Validate()
    {
        if (Names.Count == 0) throw new ArgumentException("The vocabulary needs at least one class name.", nameof(Names));
        if (IsNovel.Count != Names.Count) throw new ArgumentException($"The vocabulary has {Names.Count} names but {IsNovel.Count} novel flags.", nameof(IsNovel));
        for (int i = 0; i < Names.Count; i++)
            if (string.IsNullOrWhiteSpace(Names[i]) || ClipTokenizer.TokenizedForm(Names[i]).Length == 0)
                throw new ArgumentException($"Class name {i} ('{Names[i]}') of the vocabulary is empty once CLIP has cleaned it.", nameof(Names));
        if (FindSameToClip(Names) is var (first, second))
            throw new ArgumentException($"The vocabulary names one class more than once: class names {first} ('{Names[first]}') and {second} ('{Names[second]}') "
                + $"tokenize identically (both are '{ClipTokenizer.TokenizedForm(Names[first])}' to CLIP). Keep one of them.", nameof(Names));
    }

    /// <summary>The positions of the first two names with the same token ids, if any.</summary>
    internal static (int First, int Second)? FindSameToClip(IReadOnlyList<string> names)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            string form = ClipTokenizer.TokenizedForm(names[i]);
            if (seen.TryGetValue(form, out int first)) return (first, i);
            seen.Add(form, i);
        }
        return null;
    }
}

/// <summary>
/// The fitted F-VLM detector without the ML.NET plumbing: the frozen VLM, the trained head, and
/// inference settings. <c>Detect</c> runs a batch of images end to end. Safe to call from
/// several threads at once (the head is in evaluation mode and holds no per-call state).
/// </summary>
internal sealed class OpenVocabularyDetector
{
    private readonly FrozenVlm _vlm;
    private readonly DetectorHead _head;
    private readonly int _imageSize;
    private readonly Device _device;

    public OpenVocabularyDetector(FrozenVlm vlm, DetectorHead head, int imageSize, string device = "cpu")
    {
        if (imageSize % vlm.Manifest.ImageEncoder.SizeMultiple != 0)
            throw new ArgumentException($"ImageSize ({imageSize}) must be a multiple of {vlm.Manifest.ImageEncoder.SizeMultiple}.");
        (_vlm, _head, _imageSize, _device, Device) = (vlm, head, imageSize, torch.device(device), device);
        _head.to(_device);
        _head.eval();
    }

    public FrozenVlm Vlm => _vlm;

    /// <summary>The head's TorchSharp device ("cpu", "cuda[:n]").</summary>
    public string Device { get; }

    public DetectorHead Head => _head;

    /// <summary>Longest image side on the encoder's canvas, in pixels.</summary>
    public int ImageSize => _imageSize;

    /// <summary>Detects every class of <paramref name="vocabulary"/> in <paramref name="images"/>.</summary>
    public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images, Vocabulary vocabulary, InferenceSettings settings) =>
        Detect(images, vocabulary, [settings])[0];

    /// <summary>
    /// Detects with several post-processing settings at the cost of one forward pass (e.g. fused,
    /// detection-only and VLM-only rankings for an evaluation).
    /// </summary>
    /// <param name="images">A batch of images.</param>
    /// <param name="vocabulary">Class names and novel flags.</param>
    /// <param name="settings">One or more post-processing settings.</param>
    /// <param name="timings">Adds the time of each stage, when given.</param>
    /// <returns>Per settings, per image.</returns>
    public IReadOnlyList<IReadOnlyList<ImageDetections>> Detect(IReadOnlyList<MLImage> images, Vocabulary vocabulary, IReadOnlyList<InferenceSettings> settings,
        InferenceTimings? timings = null)
    {
        vocabulary.Validate();
        if (settings.Count == 0) throw new ArgumentException("At least one inference setting is needed.", nameof(settings));
        var regionScaling = settings[0].RegionScaling;
        if (settings.Any(s => !s.RegionScaling.Equals(regionScaling)))
            throw new ArgumentException("Inference settings that share a forward pass must embed regions at the same scales (RegionScaling).", nameof(settings));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // No garbage collection inside the native calls (NativeCallGuard): one region for the batch's
        // forward pass, one per image for its post-processing, each within the guard's budget.
        ImagePreprocessor.PreparedBatch batch;
        Tensor text;
        Tensor[] regionLevels;
        DetectorOutput output;
        using (NativeCallGuard.Enter())
        {
            long start = Stopwatch.GetTimestamp();
            batch = _vlm.Preprocessor.Prepare(images, _imageSize);
            timings?.Add(InferenceStage.Preprocessing, start);
            start = Stopwatch.GetTimestamp();
            var features = _vlm.EncodeImages(batch.PixelValues);
            timings?.Add(InferenceStage.ImageTower, start);
            start = Stopwatch.GetTimestamp();
            text = _vlm.TextEmbeddings.Get(vocabulary.Names).to(_device);
            var sizes = batch.Sizes.Select(s => ((long)s.Height, (long)s.Width)).ToArray();
            output = _head.forward(new DetectorInput(features.Select(f => f.to(_device)).ToArray(), sizes, text));
            timings?.Add(InferenceStage.Head, start);
            var regionIndex = Array.FindIndex(_vlm.Manifest.ImageEncoder.FeatureLevels, l => l.Name == _vlm.Manifest.RegionPooler.RegionLevel);
            // The tower's runs at the other scales serve only the VLM's region scores: their time is that stage's.
            start = Stopwatch.GetTimestamp();
            regionLevels = _vlm.RegionLevelsAtScales(batch.PixelValues, features[regionIndex], regionScaling);
            timings?.Add(InferenceStage.VlmRegionScoring, start);
        }
        var postProcessor = new DetectionPostProcessor(settings, vocabulary.IsNovel, timings);
        var canvas = _head.RoiHeads.MasksUsePixels ? batch.PixelValues.to(_device) : null;
        var perSettings = settings.Select(_ => new ImageDetections[images.Count]).ToArray();
        for (int i = 0; i < images.Count; i++)
        {
            using var guard = NativeCallGuard.Enter();
            using var imageScope = NewDisposeScope();
            int image = i;
            var vlm = new VlmRegionScorer(_vlm, regionLevels.Select(l => l[image..(image + 1)]).ToArray(), regionScaling, text);
            var perImage = postProcessor.Process(output.Regions![image], output.ProposalObjectness?[image], vlm,
                boxes => _head.RoiHeads.PredictMasks(output.Levels, image, boxes, canvas),
                new ImageGeometry(batch.Sizes[image], batch.Scales[image], (images[image].Height, images[image].Width)));
            for (int s = 0; s < settings.Count; s++) perSettings[s][image] = perImage[s];
        }
        timings?.AddImages(images.Count);
        return perSettings;
    }
}
