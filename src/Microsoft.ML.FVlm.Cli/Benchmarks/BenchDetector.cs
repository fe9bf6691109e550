using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Cli.Commands;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>How a benchmark detects: the detector's ONNX graph on ONNX Runtime (the transformer's path), or the TorchSharp head between the VLM's sessions.</summary>
internal enum InferencePath
{
    Graph,
    TorchSharp,
}

/// <summary>The detector under test: a trained model's, or an untrained head of the default architecture on a frozen VLM.</summary>
internal sealed class BenchDetector : IDisposable
{
    private readonly FVlmTransformer? _model;
    private readonly OpenVocabularyDetector? _detector;
    private readonly FrozenVlm? _vlm;
    private readonly GraphDetector? _graph;
    private FVlmTransformer? _view;

    private BenchDetector(FVlmTransformer? model, OpenVocabularyDetector? detector, FrozenVlm? vlm, Vocabulary vocabulary, int imageSize, string description)
    {
        (_model, _detector, _vlm, Vocabulary, ImageSize, Description) = (model, detector, vlm, vocabulary, imageSize, description);
        _graph = detector is null ? null : new GraphDetector(detector.Vlm, HeadGraphs.Export(detector.Head, detector.Vlm.Manifest), detector.ImageSize);
        CurrentVocabulary = vocabulary;
    }

    /// <summary>The model's own vocabulary (48 synthetic names for an untrained head).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The vocabulary of <see cref="Detect"/>: <see cref="Vocabulary"/> until <see cref="Use"/>.</summary>
    public Vocabulary CurrentVocabulary { get; private set; }

    public int ImageSize { get; }

    public string Description { get; }

    public static BenchDetector FromModel(FileInfo zip, int? imageSize)
    {
        if (imageSize is not null) throw new ArgumentException("--image-size applies to --vlm only: a trained model detects at the size it was trained at.");
        var model = ModelFile.Load(new MLContext(), zip);
        return new BenchDetector(model, null, null, model.Vocabulary, model.ImageSize, $"model {zip.Name}");
    }

    public static BenchDetector FromVlm(DirectoryInfo folder, int imageSize)
    {
        var vlm = FrozenVlm.Load(folder.FullName);
        var head = DetectorFactory.Create(vlm.Manifest, DetectorArchitecture.Default);
        var detector = new OpenVocabularyDetector(vlm, head, imageSize);
        return new BenchDetector(null, detector, vlm, SyntheticVocabulary(48), imageSize, $"VLM {vlm.Manifest.Name}, untrained head");
    }

    /// <summary>"object number 1" ... : names with no meaning, for vocabulary scaling.</summary>
    public static Vocabulary SyntheticVocabulary(int count) => Vocabulary.AllNovel(Enumerable.Range(1, count).Select(i => $"object number {i}").ToArray());

    /// <summary>Sets the vocabulary of every later <see cref="Detect"/> (a trained model's view is made once, here).</summary>
    public void Use(Vocabulary vocabulary)
    {
        _view?.Dispose();
        _view = _model?.WithVocabulary(vocabulary.Names, vocabulary.IsNovel);
        CurrentVocabulary = vocabulary;
    }

    public void Detect(IReadOnlyList<MLImage> images, InferenceTimings? timings, InferencePath path = InferencePath.Graph)
    {
        var view = _view ?? _model;
        if (view is not null && path == InferencePath.Graph)
        {
            if (timings is null) view.Detect(images);
            else view.Detect(images, timings);
        }
        else if (view is not null)
        {
            using var lease = view.Model.Use();
            view.Model.Detector.Detect(images, view.Vocabulary, [view.InferenceSettings], timings);
        }
        else if (path == InferencePath.Graph)
        {
            _graph!.Detect(images, CurrentVocabulary, new InferenceSettings(), timings);
        }
        else
        {
            _detector!.Detect(images, CurrentVocabulary, [new InferenceSettings()], timings);
        }
    }

    public void Dispose()
    {
        _graph?.Dispose();
        _view?.Dispose();
        _model?.Dispose();
        _detector?.Head.Dispose();
        _vlm?.Dispose();
    }
}
