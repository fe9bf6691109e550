using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Shapes;

// Renders four Shapes scenes, detects them with the detector shipped in the Shapes package (whose
// head runs in TorchSharp, so the native-library fix must have travelled with the package), and
// prints one line per scene: detections, and those scoring at least 0.3 that hit an instance of their
// class (IoU >= 0.5).
string folder = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "fvlm-package-consumer");
var generator = new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 4, Seed = 11 });
generator.Generate(folder);

var mlContext = new MLContext();
using var detector = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out _);
var files = Directory.GetFiles(Path.Combine(folder, ShapesGenerator.ImageFolderName(ShapesSplit.Val)), "*.png").Order().ToArray();
var images = files.Select(MLImage.CreateFromFile).ToArray();
var detections = detector.Detect(images);
for (int i = 0; i < images.Length; i++)
{
    var truth = generator.RenderScene(i).Instances.Where(instance => instance.IsAnnotated).ToArray();
    var found = detections[i];
    int hits = 0;
    for (int d = 0; d < found.Count && found.Scores[d] >= 0.3f; d++)
    {
        string name = detector.Vocabulary.Names[found.Classes[d]];
        var box = found.Boxes.AsSpan(4 * d, 4).ToArray();
        if (truth.Any(t => t.Category.Name == name && Iou(box, t.Box) >= 0.5))
            hits++;
    }
    Console.WriteLine($"scene {i}: {found.Count} detections, {hits} correct at score 0.3, {truth.Length} instances");
    images[i].Dispose();
}

// a: x0 y0 x1 y1 (a detection); b: COCO x y width height (an instance).
static double Iou(float[] a, double[] b)
{
    double w = Math.Min(a[2], b[0] + b[2]) - Math.Max(a[0], b[0]), h = Math.Min(a[3], b[1] + b[3]) - Math.Max(a[1], b[1]);
    double inter = Math.Max(w, 0) * Math.Max(h, 0);
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + b[2] * b[3] - inter);
}
