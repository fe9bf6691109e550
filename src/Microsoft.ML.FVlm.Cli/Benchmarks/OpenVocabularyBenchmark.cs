using Microsoft.ML.FVlm.Cli.Commands;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>The open-vocabulary table of one model: AP by IoU type ("bbox", "segm") and score source ("detection", "vlm", "fused").</summary>
internal sealed record OpenVocabularyResult(string Model, IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> Table);

/// <summary>Renders Shapes <c>val</c> (320 px, seed 0: the split docs/shapes-detector.md evaluates) and evaluates models on it.</summary>
internal sealed class OpenVocabularyBenchmark : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"fvlm-bench-val-{Guid.NewGuid():N}");
    private readonly CocoDataset _groundTruth;

    public OpenVocabularyBenchmark(int imageCount)
    {
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = imageCount, Seed = 0 }).Generate(_folder);
        _groundTruth = CocoJson.ReadDataset(Path.Combine(_folder, "val.json"));
    }

    public int Images => _groundTruth.Images.Count;

    public OpenVocabularyResult Evaluate(FileInfo model, IProgress<int>? progress = null)
    {
        using var transformer = ModelFile.Load(new MLContext(), model);
        return new OpenVocabularyResult(model.Name, OpenVocabularyEvaluator.Evaluate(transformer, _groundTruth, _folder, progress: progress));
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}
