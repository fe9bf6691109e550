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
        //   image 0: 36 detections
        //     circle 0.79 at [57, 172, 147, 265]
        //     circle 0.50 at [61, 214, 156, 267]
        //     five-pointed star 0.35 at [10, 62, 100, 106]
        //     circle 0.32 at [56, 111, 185, 259]
        //   image 1: 19 detections
        //     circle 0.93 at [83, 61, 106, 101]
        //     circle 0.86 at [21, 132, 63, 173]
        //     circle 0.80 at [245, 241, 265, 267]
        //     circle 0.30 at [31, 129, 53, 168]
        //   image 2: 100 detections
        //     hexagon 0.87 at [157, 48, 215, 93]
        //     circle 0.76 at [218, 223, 261, 267]
        //     hexagon 0.75 at [114, 48, 193, 130]
        //     ...
    }

    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
    }
}
