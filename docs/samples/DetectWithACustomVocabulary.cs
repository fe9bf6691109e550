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
        //   image 0: 29 detections
        //     circle 0.75 at [60, 183, 145, 265]
        //     circle 0.53 at [49, 93, 203, 228]
        //   image 1: 24 detections
        //     circle 0.91 at [83, 62, 105, 100]
        //     circle 0.62 at [25, 132, 60, 176]
        //     circle 0.56 at [246, 241, 265, 266]
        //   image 2: 79 detections
        //     circle 0.96 at [219, 228, 260, 269]
        //     hexagon 0.86 at [156, 49, 217, 90]
        //     hexagon 0.63 at [113, 46, 206, 128]
        //     ...
    }

    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }
}
