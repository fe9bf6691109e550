using System.Text;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Evaluation;

namespace Microsoft.ML.FVlm.Tests.Evaluation;

/// <summary>The public surface: COCO JSON and results files, the detector's IDataView columns, the results writer.</summary>
public class CocoInputTests
{
    private const double Tolerance = 1e-12;
    private const double One = 1 / (1 + 2.220446049250313e-16);

    [Test]
    public void DetectionAreaComesFromTheBoxWhenThereIsOneAsLoadResDoes()
    {
        // One small object (10 x 10 mask). A false positive (0.9) whose mask is small but whose box is
        // 150 x 150, then a true positive (0.8). segm, all areas: FP, TP -> AP 0.5.
        // Small range with a box: the false positive's area is 150 * 150 = 22500, outside "small", unmatched:
        // ignored -> APs = 1. Without a box its area is the mask's (100): counted -> APs = 0.5.
        var square = Square(200, 0, 0, 10);
        var groundTruth = Dataset((1, 200, 200)).WithCategory(1, "square");
        groundTruth.Annotations.Add(new CocoAnnotation { Id = 1, ImageId = 1, CategoryId = 1, Bbox = [0, 0, 10, 10], Area = 100, Segmentation = CocoSegmentation.FromRle(square) });
        string far = CocoMask.ToCompressedString(Square(200, 100, 100, 10));
        string near = CocoMask.ToCompressedString(square);
        string withBoxes = $$$"""
            [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 150, 150], "score": 0.9, "segmentation": {"size": [200, 200], "counts": "{{{Escape(far)}}}"}},
             {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8, "segmentation": {"size": [200, 200], "counts": "{{{Escape(near)}}}"}}]
            """;
        string masksOnly = $$$"""
            [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {"size": [200, 200], "counts": "{{{Escape(far)}}}"}},
             {"image_id": 1, "category_id": 1, "score": 0.8, "segmentation": {"size": [200, 200], "counts": "{{{Escape(near)}}}"}}]
            """;
        var options = new DetectionEvaluationOptions { IouType = DetectionIouType.Segmentation };
        var mlContext = new MLContext();

        var boxed = mlContext.EvaluateDetections(ReadResults(withBoxes), groundTruth, options);
        var unboxed = mlContext.EvaluateDetections(ReadResults(masksOnly), groundTruth, options);

        Assert.That(boxed.AveragePrecision, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(boxed.AveragePrecisionSmall, Is.EqualTo(One).Within(Tolerance));
        Assert.That(unboxed.AveragePrecision, Is.EqualTo(0.5).Within(Tolerance));
        Assert.That(unboxed.AveragePrecisionSmall, Is.EqualTo(0.5).Within(Tolerance));
    }

    [Test]
    public void PredictionColumnsBecomeCocoResultsAndAreScoredLikeTheFile()
    {
        // Vocabulary: square (key 1), circle (key 2), unicorn (key 3, not a ground-truth name: left out).
        // Image 1: square TP [0,0,10,10] (0.9). Image 2: circle TP (0.7) and a square FP (0.95).
        // square: FP (0.95) above TP (0.9): AP 0.5. circle: AP 1. Mean: (0.5 + 1) / 2, for boxes and masks alike.
        var groundTruth = Dataset((1, 200, 200), (2, 200, 200)).WithCategory(1, "square").WithCategory(2, "circle");
        groundTruth.Annotations.Add(new CocoAnnotation { Id = 1, ImageId = 1, CategoryId = 1, Bbox = [0, 0, 10, 10], Area = 100, Segmentation = CocoSegmentation.FromRle(Square(200, 0, 0, 10)) });
        groundTruth.Annotations.Add(new CocoAnnotation { Id = 2, ImageId = 2, CategoryId = 2, Bbox = [50, 50, 20, 20], Area = 400, Segmentation = CocoSegmentation.FromRle(Square(200, 50, 50, 20)) });
        var rows = new[]
        {
            new PredictionRow
            {
                ImageId = 1, PredictedLabel = [1, 3], Score = [0.9f, 0.99f], PredictedBoundingBoxes = [0, 0, 10, 10, 5, 5, 15, 15],
                PredictedMasks = [Rle(Square(200, 0, 0, 10)), Rle(Square(200, 5, 5, 10))],
            },
            new PredictionRow
            {
                ImageId = 2, PredictedLabel = [2, 1], Score = [0.7f, 0.95f], PredictedBoundingBoxes = [50, 50, 70, 70, 100, 100, 120, 120],
                PredictedMasks = [Rle(Square(200, 50, 50, 20)), Rle(Square(200, 100, 100, 20))],
            },
        };
        var mlContext = new MLContext();
        var predictions = Predictions(mlContext, rows, ["square", "circle", "unicorn"]);

        var results = mlContext.ToCocoResults(predictions, groundTruth);
        Assert.That(results, Has.Count.EqualTo(3));
        Assert.That(results[1].ImageId, Is.EqualTo(2));
        Assert.That(results[1].CategoryId, Is.EqualTo(2));
        Assert.That(results[1].Bbox, Is.EqualTo(new double[] { 50, 50, 20, 20 }));
        Assert.That(results[1].Score, Is.EqualTo(0.7f));
        Assert.That(CocoMask.Area(results[1].Segmentation!.Rle!), Is.EqualTo(400));

        double expected = (0.5 + One) / 2;
        var bbox = mlContext.EvaluateDetections(predictions, groundTruth);
        var segm = mlContext.EvaluateDetections(predictions, groundTruth, DetectionIouType.Segmentation);
        Assert.That(bbox.AveragePrecision, Is.EqualTo(expected).Within(Tolerance));
        Assert.That(segm.AveragePrecision, Is.EqualTo(expected).Within(Tolerance));
        Assert.That(bbox.PerCategoryAveragePrecision[1], Is.EqualTo(0.5).Within(Tolerance));

        // Written as a results file and read back, the detections score the same.
        using var file = new MemoryStream();
        CocoJson.WriteResults(results, file);
        file.Position = 0;
        var reread = CocoJson.ReadResults(file);
        var fromFile = mlContext.EvaluateDetections(reread, groundTruth, new DetectionEvaluationOptions { IouType = DetectionIouType.Segmentation });
        Assert.That(fromFile.Figures, Is.EqualTo(segm.Figures));
    }

    [Test]
    public void MissingColumnIsNamedInTheError()
    {
        var mlContext = new MLContext();
        var groundTruth = Dataset((1, 20, 20)).WithCategory(1, "square");
        var predictions = Predictions(mlContext, [new PredictionRow { ImageId = 1, PredictedLabel = [], Score = [], PredictedBoundingBoxes = [], PredictedMasks = [] }], ["square"]);
        var options = new DetectionEvaluationOptions { PredictedBoundingBoxesColumnName = "Boxes" };

        var error = Assert.Throws<ArgumentException>(() => mlContext.EvaluateDetections(predictions, groundTruth, options));
        Assert.That(error!.Message, Does.Contain("'Boxes'").And.Contain("PredictedBoundingBoxesColumnName"));
    }

    [Test]
    public void DetectionOnAnUnknownImageIsRejected()
    {
        var groundTruth = Dataset((1, 20, 20)).WithCategory(1, "square");
        var detections = new List<CocoAnnotation> { new() { ImageId = 7, CategoryId = 1, Bbox = [0, 0, 5, 5], Score = 0.5 } };

        var error = Assert.Throws<InvalidDataException>(() => new MLContext().EvaluateDetections(detections, groundTruth));
        Assert.That(error!.Message, Does.StartWith("detections: [0].image_id: 7 is not the id of an image in the ground truth"));

        // Read from files, the message names them.
        var read = CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes(
            """[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}, {"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]""")), "dt.json");
        error = Assert.Throws<InvalidDataException>(() => new MLContext().EvaluateDetections(read, ReadDataset(groundTruth, "gt.json")));
        Assert.That(error!.Message, Does.StartWith("dt.json: [1].image_id: 7 is not the id of an image in gt.json"));
    }

    [Test]
    public void DetectionsOfUnknownCategoriesAreLeftOutWithAWarning()
    {
        // pycocotools (COCOeval._prepare: getAnnIds(catIds=...)) and lvis-api (LVISEval._prepare) leave out results
        // whose category is not in the ground truth, without a word. Same figures here, and a warning with the count.
        // Image 1: one square; a TP (0.8) and, above it, two results of categories 5 and 9 that the file does not have.
        var groundTruth = Dataset((1, 20, 20)).WithCategory(1, "square");
        groundTruth.Annotations.Add(new CocoAnnotation { Id = 1, ImageId = 1, CategoryId = 1, Bbox = [2, 2, 10, 10], Area = 100 });
        var detections = CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes("""
            [{"image_id": 1, "category_id": 9, "bbox": [2, 2, 10, 10], "score": 0.9},
             {"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.8},
             {"image_id": 1, "category_id": 5, "bbox": [2, 2, 10, 10], "score": 0.95}]
            """)), "dt.json");

        using var warnings = new RecordedWarnings();
        var metrics = new MLContext().EvaluateDetections(detections, ReadDataset(groundTruth, "gt.json"));

        Assert.That(metrics.AveragePrecision, Is.EqualTo(One).Within(Tolerance));
        Assert.That(warnings.Messages, Is.EqualTo(new[]
        {
            "dt.json: 2 of 3 results have a category_id that is not a category of gt.json (5, 9); "
                + "they are left out of the evaluation, as pycocotools and lvis-api leave them out.",
        }));
    }

    [Test]
    public void LvisNeedsCategoryFrequencies()
    {
        var groundTruth = Dataset((1, 20, 20)).WithCategory(1, "square");
        var options = new DetectionEvaluationOptions { Protocol = DetectionEvaluationProtocol.Lvis };

        var error = Assert.Throws<InvalidDataException>(() => new MLContext().EvaluateDetections([], groundTruth, options));
        Assert.That(error!.Message, Does.Contain("category 1").And.Contain("frequency"));
    }

    private sealed class PredictionRow
    {
        public long ImageId { get; set; }

        public uint[] PredictedLabel { get; set; } = [];

        public float[] Score { get; set; } = [];

        public float[] PredictedBoundingBoxes { get; set; } = [];

        public string[] PredictedMasks { get; set; } = [];
    }

    private static IDataView Predictions(MLContext mlContext, PredictionRow[] rows, string[] vocabulary)
    {
        var definition = SchemaDefinition.Create(typeof(PredictionRow));
        var label = definition[nameof(PredictionRow.PredictedLabel)];
        label.ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), vocabulary.Length));
        var names = new VBuffer<ReadOnlyMemory<char>>(vocabulary.Length, [.. vocabulary.Select(v => v.AsMemory())]);
        label.AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, vocabulary.Length));
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    private static CocoDataset Dataset(params (long Id, int Height, int Width)[] images)
    {
        var dataset = new CocoDataset();
        foreach (var (id, height, width) in images)
            dataset.Images.Add(new CocoImage { Id = id, FileName = $"{id}.png", Height = height, Width = width });
        return dataset;
    }

    /// <summary>The dataset as <see cref="CocoJson.ReadDataset(Stream, string)"/> gives it when it reads a file of that name.</summary>
    private static CocoDataset ReadDataset(CocoDataset dataset, string name)
    {
        var stream = new MemoryStream();
        CocoJson.WriteDataset(dataset, stream);
        stream.Position = 0;
        return CocoJson.ReadDataset(stream, name);
    }

    private static RleMask Square(int size, int x, int y, int side) =>
        EvaluationScenario.Mask(size, size, (row, column) => row >= y && row < y + side && column >= x && column < x + side);

    private static string Rle(RleMask mask) => CocoMask.ToCompressedString(mask);

    private static string Escape(string counts) => counts.Replace("\\", "\\\\").Replace("\"", "\\\"");

    private static List<CocoAnnotation> ReadResults(string json) =>
        CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes(json)));
}

internal static class CocoDatasetTestExtensions
{
    public static CocoDataset WithCategory(this CocoDataset dataset, long id, string name)
    {
        dataset.Categories.Add(new CocoCategory { Id = id, Name = name });
        return dataset;
    }
}
