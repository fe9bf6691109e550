using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Shapes;

namespace Samples;

/// <summary>Detects free-text classes, none of them chosen at training time, in an IDataView of image files.</summary>
public static class DetectWithACustomVocabulary
{
    public static void Example()
    {
        var mlContext = new MLContext();

        // The detector shipped with the Shapes package: a head trained on the Shapes world's base
        // categories on top of a small frozen CLIP. "hexagon" and "gear" were never annotated.
        using var shipped = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out _);
        using var detector = shipped.WithVocabulary(["hexagon", "gear", "circle", "five-pointed star"]);

        // Three scenes of the Shapes world, as files.
        string folder = Path.Combine(Path.GetTempPath(), "fvlm-sample-detect");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 3, Seed = 42 }).Generate(folder);
        var files = Directory.GetFiles(Path.Combine(folder, "val"), "*.png").Order().Select(f => new ImageFile { Path = f });
        IDataView images = mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageFile.Path))
            .Fit(mlContext.Data.LoadFromEnumerable(files)).Transform(mlContext.Data.LoadFromEnumerable(files));

        // Transform is lazy and batched; each row gets variable-length detection columns.
        IDataView scored = detector.Transform(images);
        using var cursor = scored.GetRowCursor(scored.Schema);
        var label = cursor.GetGetter<VBuffer<uint>>(scored.Schema["PredictedLabel"]);
        var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var box = cursor.GetGetter<VBuffer<float>>(scored.Schema["PredictedBoundingBoxes"]);
        VBuffer<uint> labels = default;
        VBuffer<float> scores = default, boxes = default;
        VBuffer<ReadOnlyMemory<char>> names = default;
        scored.Schema["PredictedLabel"].GetKeyValues(ref names);
        int row = 0;
        while (cursor.MoveNext())
        {
            label(ref labels);
            score(ref scores);
            box(ref boxes);
            var (l, s, b) = (labels.DenseValues().ToArray(), scores.DenseValues().ToArray(), boxes.DenseValues().ToArray());
            Console.WriteLine($"image {row++}: {l.Length} detections");
            for (int d = 0; d < l.Length && s[d] >= 0.3f; d++)
                Console.WriteLine($"  {names.GetItemOrDefault((int)l[d] - 1)} {s[d]:F2} at [{b[d * 4]:F0}, {b[d * 4 + 1]:F0}, {b[d * 4 + 2]:F0}, {b[d * 4 + 3]:F0}]");
        }
        Directory.Delete(folder, recursive: true);

        // Expected output (the shipped detector, measured on 2 CPU cores; detections scoring at least 0.3):
        //   image 0: 24 detections
        //     circle 0.90 at [61, 189, 138, 262]
        //     circle 0.45 at [48, 97, 191, 250]
        //     circle 0.37 at [92, 183, 154, 265]
        //     five-pointed star 0.31 at [1, 66, 11, 75]
        //   image 1: 20 detections
        //     circle 0.98 at [83, 62, 105, 99]
        //     circle 0.80 at [21, 126, 59, 174]
        //     circle 0.77 at [245, 239, 266, 266]
        //   image 2: 97 detections
        //     hexagon 0.88 at [158, 50, 210, 90]
        //     circle 0.88 at [223, 244, 262, 267]
        //     circle 0.87 at [217, 221, 261, 272]
        //     ...
    }

    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }
}
