using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.Transforms.Image;

namespace Samples;

/// <summary>
/// Exports the detector as one ONNX graph with its vocabulary as inputs, and runs the graph in an ML.NET pipeline with
/// ApplyOnnxModel (Microsoft.ML.OnnxTransformer): no F-VLM code in the scoring pipeline. Then checks it against the
/// transformer's own detections.
/// </summary>
public static class RunTheExportedGraphWithApplyOnnxModel
{
    private const int Side = 320;

    public static void Example()
    {
        var mlContext = new MLContext();
        using var shipped = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out _);
        using var detector = shipped.WithVocabulary(["hexagon", "gear", "circle", "five-pointed star"]);

        // The graph and the vocabulary's inputs (text_embeddings.npy [K, D] and vlm_weights.npy [K]).
        string folder = Path.Combine(Path.GetTempPath(), "fvlm-sample-onnx");
        Directory.CreateDirectory(folder);
        string graph = Path.Combine(folder, "detector.onnx");
        detector.ExportOnnx(graph);
        detector.ExportVocabulary(folder);
        var (text, textShape) = ReadNpy(Path.Combine(folder, "text_embeddings.npy"));
        var (weights, _) = ReadNpy(Path.Combine(folder, "vlm_weights.npy"));

        // Three scenes; every row carries the image's path and the vocabulary's two arrays (the graph's inputs by name).
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 3, Seed = 42, ImageSize = Side }).Generate(folder);
        var rows = Directory.GetFiles(Path.Combine(folder, "val"), "*.png").Order()
            .Select(f => new Row { Path = f, text_embeddings = text, vlm_weights = weights }).ToArray();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.text_embeddings)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, text.Length);
        schema[nameof(Row.vlm_weights)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, weights.Length);
        IDataView data = mlContext.Data.LoadFromEnumerable(rows, schema);

        // uint8 RGB, row by row ([H, W, 3]; ExtractPixels needs a known size: the scenes' own), then the graph.
        var pipeline = mlContext.Transforms.LoadImages("Loaded", imageFolder: "", inputColumnName: nameof(Row.Path))
            .Append(mlContext.Transforms.ResizeImages("Sized", Side, Side, "Loaded"))
            .Append(mlContext.Transforms.ExtractPixels("image", "Sized", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
                interleavePixelColors: true, outputAsFloatArray: false))
            .Append(mlContext.Transforms.ApplyOnnxModel(["boxes", "scores", "labels"], ["image", "text_embeddings", "vlm_weights"], graph,
                shapeDictionary: new Dictionary<string, int[]> { ["image"] = [Side, Side, 3], ["text_embeddings"] = [(int)textShape[0], (int)textShape[1]], ["vlm_weights"] = [weights.Length] },
                gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100));
        IDataView scored = pipeline.Fit(data).Transform(data);

        var names = detector.Vocabulary.Names;
        var labels = scored.GetColumn<long[]>("labels").ToArray();
        var scores = scored.GetColumn<float[]>("scores").ToArray();
        var boxes = scored.GetColumn<float[]>("boxes").ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            Console.WriteLine($"image {i}: {labels[i].Length} detections");
            for (int d = 0; d < labels[i].Length && scores[i][d] >= 0.3f; d++)
                Console.WriteLine($"  {names[(int)labels[i][d]]} {scores[i][d]:F2} at [{boxes[i][d * 4]:F0}, {boxes[i][d * 4 + 1]:F0}, {boxes[i][d * 4 + 2]:F0}, {boxes[i][d * 4 + 3]:F0}]");
        }

        // The same images through the transformer: the same detections (boxes within 0.01 px, scores within 1e-4 relative).
        using var images = new DisposableImages(rows.Select(r => MLImage.CreateFromFile(r.Path)).ToArray());
        var expected = detector.Detect(images.Items);
        bool same = expected.Select((e, i) => e.Classes.Length == labels[i].Length
            && e.Classes.Select((c, d) => c == labels[i][d] && Math.Abs(e.Scores[d] - scores[i][d]) <= 1e-4 * e.Scores[d]).All(x => x)
            && e.Boxes.Select((b, j) => Math.Abs(b - boxes[i][j]) <= 0.01).All(x => x)).All(x => x);
        Console.WriteLine($"the same detections as FVlmTransformer.Detect: {(same ? "yes" : "no")}");
        Directory.Delete(folder, recursive: true);

        // Expected output (the shipped detector; detections scoring at least 0.3):
        //   image 0: 29 detections
        //     circle 0.75 at [60, 183, 145, 265]
        //     ...
        //   the same detections as FVlmTransformer.Detect: yes
    }

    /// <summary>A float32 .npy file (NumPy's format): the header's length at bytes 8 and 9, its shape in the header, then the values.</summary>
    private static (float[] Values, long[] Shape) ReadNpy(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = bytes[8] | bytes[9] << 8;
        string header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        string dims = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..header.IndexOf(')')];
        long[] shape = dims.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return (MemoryMarshal.Cast<byte, float>(bytes.AsSpan(10 + headerLength)).ToArray(), shape);
    }

    private sealed class Row
    {
        public string Path { get; set; } = "";

        // Named as the graph's inputs, which ApplyOnnxModel binds by column name.
#pragma warning disable IDE1006
        public float[] text_embeddings { get; set; } = [];
        public float[] vlm_weights { get; set; } = [];
#pragma warning restore IDE1006
    }

    private sealed class DisposableImages(MLImage[] items) : IDisposable
    {
        public MLImage[] Items { get; } = items;

        public void Dispose()
        {
            foreach (var image in Items) image.Dispose();
        }
    }
}
