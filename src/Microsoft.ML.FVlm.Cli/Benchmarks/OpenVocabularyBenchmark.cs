using Microsoft.ML.FVlm.Cli.Commands;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>The open-vocabulary table of one model: AP by IoU type ("bbox", "segm") and score source ("detection", "vlm", "fused").</summary>
/// <param name="Model">The model's file name.</param>
/// <param name="Table">The figures.</param>
/// <param name="Source">Where they come from: null when evaluated in this run, else the <c>fvlm evaluate-model --json</c> file read.</param>
internal sealed record OpenVocabularyResult(string Model, IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> Table, string? Source = null)
{
    private static readonly string[] s_iouTypes = ["bbox", "segm"], s_sources = ["detection", "vlm", "fused"];

    /// <summary>
    /// Writes <paramref name="table"/> as <c>fvlm evaluate-model --json</c> does:
    /// <c>{"segm"|"bbox": {"detection"|"vlm"|"fused": {"novel", "base", "all", "APr", "APc", "APf"}}}</c>, with a row
    /// "fused-&lt;method&gt;" per fusion method instead of "fused" after <c>--fusion</c>.
    /// </summary>
    public static void Write(IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> table, string path)
    {
        var document = table.ToDictionary(t => t.Key, t => t.Value.ToDictionary(r => r.Key, r => new Dictionary<string, double>
        {
            ["novel"] = r.Value.Novel, ["base"] = r.Value.Base, ["all"] = r.Value.All,
            ["APr"] = r.Value.Rare, ["APc"] = r.Value.Common, ["APf"] = r.Value.Frequent,
        }));
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(document, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads what <see cref="Write"/> (<c>fvlm evaluate-model --json</c>) wrote.</summary>
    public static OpenVocabularyResult Read(string model, FileInfo json)
    {
        if (!json.Exists) throw new FileNotFoundException($"'{json.FullName}' does not exist: write it with 'fvlm evaluate-model --model ... --data ... --json {json.Name}'.", json.FullName);
        Dictionary<string, Dictionary<string, Dictionary<string, double>>>? document;
        try
        {
            document = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, Dictionary<string, double>>>>(File.ReadAllText(json.FullName));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"'{json.FullName}' is not the JSON 'fvlm evaluate-model --json' writes: {e.Message}", e);
        }
        var table = new Dictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>>();
        foreach (string iou in s_iouTypes)
        {
            var rows = new Dictionary<string, OpenVocabularyFigures>();
            foreach (string source in s_sources)
            {
                if (document?.GetValueOrDefault(iou)?.GetValueOrDefault(source) is not { } f)
                    throw new InvalidDataException($"'{json.FullName}' has no \"{iou}\".\"{source}\" figures; write it with 'fvlm evaluate-model --json'.");
                double Get(string key) => f.TryGetValue(key, out double v) ? v : throw new InvalidDataException($"'{json.FullName}': \"{iou}\".\"{source}\" has no \"{key}\".");
                rows[source] = new OpenVocabularyFigures(Get("novel"), Get("base"), Get("all"), Get("APr"), Get("APc"), Get("APf"));
            }
            table[iou] = rows;
        }
        return new OpenVocabularyResult(model, table, json.FullName);
    }
}

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
