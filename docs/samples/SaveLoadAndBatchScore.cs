using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Shapes;

namespace Samples;

/// <summary>Saves a detector with its vocabulary to an ML.NET model zip, loads it, and scores a batch of images.</summary>
public static class SaveLoadAndBatchScore
{
    public static void Example()
    {
        var mlContext = new MLContext();
        string folder = Path.Combine(Path.GetTempPath(), "fvlm-sample-save-load");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 8, Seed = 7 }).Generate(folder);
        var files = Directory.GetFiles(Path.Combine(folder, "val"), "*.png").Order().Select(f => new ImageFile { Path = f }).ToArray();
        var input = mlContext.Data.LoadFromEnumerable(files);
        var loadImages = mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.Path)).Fit(input);

        // A vocabulary set after training is saved with the model: the zip holds the head, the frozen
        // VLM's graphs, the text embeddings, the vocabulary and the options, and nothing else is needed.
        string zip = Path.Combine(folder, "detector.zip");
        using (var shipped = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out var schema))
        using (var detector = shipped.WithVocabulary(["square", "triangle", "hexagon"]))
            mlContext.Model.Save(mlContext.Transforms.LoadImages("Image", "", nameof(ImageFile.Path)).Fit(input).Append(detector), input.Schema, zip);

        // Load the whole pipeline (image loading + detector) and score the batch through IDataView.
        var loaded = mlContext.Model.Load(zip, out _);
        IDataView scored = loaded.Transform(input);
        var scores = scored.GetColumn<VBuffer<float>>("Score").ToArray();
        Console.WriteLine($"{scores.Length} images scored, {scores.Sum(s => s.Length)} detections in all");
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        scored.Schema["PredictedLabel"].GetKeyValues(ref names);
        Console.WriteLine($"vocabulary after loading: {string.Join(", ", names.DenseValues())}");
        (loaded as IDisposable)?.Dispose();
        Directory.Delete(folder, recursive: true);

        // Expected output (the shipped detector):
        //   8 images scored, 254 detections in all
        //   vocabulary after loading: square, triangle, hexagon
    }

    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }
}
