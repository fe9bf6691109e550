using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Shapes;

// Renders four Shapes scenes, detects them with the detector shipped in the Shapes package (through its
// ONNX graph on ONNX Runtime: with or without libtorch in the application), and prints one line per
// scene: detections, and those scoring at least 0.3 that hit an instance of their class (IoU >= 0.5).
// Then detects with a vocabulary of names the model has not seen, saves the detector with this
// application's ML.NET, loads the saved zip and prints whether it detects exactly the same.
string folder = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "fvlm-package-consumer");
var generator = new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 4, Seed = 11 });
generator.Generate(folder);

var mlContext = new MLContext();
Console.WriteLine($"ML.NET {typeof(MLContext).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false).Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion.Split('+')[0]}");
using var detector = (FVlmTransformer)mlContext.Model.Load(ShapesDetector.ModelFile, out DataViewSchema inputSchema);
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
}

using var renamed = detector.WithVocabulary(["a red circle", "a blue square", "a gear"]);
Console.WriteLine($"free-text vocabulary of {renamed.Vocabulary.Names.Count} classes: {renamed.Detect(images).Sum(d => d.Count)} detections");

string saved = Path.Combine(folder, "saved.zip");
mlContext.Model.Save(detector, inputSchema, saved);
using var reloaded = (FVlmTransformer)mlContext.Model.Load(saved, out _);
var again = reloaded.Detect(images);
bool identical = Enumerable.Range(0, images.Length).All(i =>
    again[i].Classes.SequenceEqual(detections[i].Classes) && again[i].Scores.SequenceEqual(detections[i].Scores)
    && again[i].Boxes.SequenceEqual(detections[i].Boxes)
    && again[i].Masks!.SequenceEqual(detections[i].Masks!));
Console.WriteLine($"saved and reloaded: {(identical ? "identical" : "different")} detections, {again.Sum(d => d.Count)} in all");
foreach (var image in images) image.Dispose();

// a: x0 y0 x1 y1 (a detection); b: COCO x y width height (an instance).
static double Iou(float[] a, double[] b)
{
    double w = Math.Min(a[2], b[0] + b[2]) - Math.Max(a[0], b[0]), h = Math.Min(a[3], b[1] + b[3]) - Math.Max(a[1], b[1]);
    double inter = Math.Max(w, 0) * Math.Max(h, 0);
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + b[2] * b[3] - inter);
}
