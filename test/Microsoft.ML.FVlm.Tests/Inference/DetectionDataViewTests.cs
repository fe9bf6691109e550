using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Tests.Vlm;
using Microsoft.ML.FVlm.Vlm;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>The detection transform's view, cursor and row mapper on the tiny random VLM with an untrained head.</summary>
public class DetectionDataViewTests
{
    private static readonly Vocabulary Classes = new(["ring", "circle", "square", "star"], [false, false, true, true]);
    private static readonly InferenceSettings Settings = new() { ScoreThreshold = 0.0, MaxDetections = 6 };

    private FrozenVlm _vlm = null!;
    private OpenVocabularyDetector _detector = null!;

    [OneTimeSetUp]
    public void LoadDetector()
    {
        _vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        _detector = OpenVocabularyDetectorTests.NewDetector(_vlm);
    }

    [OneTimeTearDown]
    public void DisposeVlm() => _vlm.Dispose();

    [Test]
    public void OutputSchemaAppendsDetectionColumnsWithKeyValues()
    {
        var input = new GeneratedImageDataView(rows: 1).Schema;
        var options = new FVlmOptions { PredictedBoundingBoxColumnName = "Tags", AddDetectionScoreColumn = true, AddVlmScoreColumn = true };

        var schema = new DetectionColumns(input, FVlmOptionsValidator.Columns(options), Classes.Names).OutputSchema;

        Assert.That(schema.Select(c => c.Name), Is.EqualTo(new[] { "Id", "Image", "Tags", "PredictedLabel", "Score", "Tags", "PredictedMasks", "DetectionScore", "VlmScore" }));
        Assert.That(schema[1].Type, Is.InstanceOf<ImageDataViewType>());
        Assert.That(schema[2].IsHidden, Is.True, "the input Tags is hidden by the output of the same name");
        Assert.That(schema["Tags"].Index, Is.EqualTo(5));
        var label = (VectorDataViewType)schema["PredictedLabel"].Type;
        Assert.That(label.Size, Is.EqualTo(0), "variable length");
        Assert.That(label.ItemType, Is.EqualTo(new KeyDataViewType(typeof(uint), 4)));
        Assert.That(schema["Score"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single)));
        Assert.That(schema["PredictedMasks"].Type, Is.EqualTo(new VectorDataViewType(TextDataViewType.Instance)));
        Assert.That(schema["VlmScore"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single)));

        var annotations = schema["PredictedLabel"].Annotations;
        Assert.That(annotations.Schema["KeyValues"].Type, Is.EqualTo(new VectorDataViewType(TextDataViewType.Instance, 4)));
        VBuffer<ReadOnlyMemory<char>> names = default;
        annotations.GetValue("KeyValues", ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EqualTo(new[] { "ring", "circle", "square", "star" }));
    }

    [Test]
    public void InputWithoutAnImageColumnIsRejectedInMlNetWording()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", NumberDataViewType.Single);
        var wrongType = builder.ToSchema();

        var mismatch = Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionColumns(wrongType, FVlmOptionsValidator.Columns(new FVlmOptions()), Classes.Names));
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => new DetectionColumns(wrongType, FVlmOptionsValidator.Columns(new FVlmOptions { ImageColumnName = "Photo" }), Classes.Names));

        Assert.That(mismatch!.Message, Does.StartWith("Schema mismatch for image column 'Image': expected Image, got Single"));
        Assert.That(missing!.Message, Does.StartWith("Could not find image column 'Photo'"));
    }

    [Test]
    public void TransformOfLoadedImagesEqualsPerImageDetectionAcrossBatchBoundaries()
    {
        // 7 PNG files, batches of 3: the last batch holds one row.
        string folder = Directory.CreateTempSubdirectory("fvlm-dataview-").FullName;
        try
        {
            var files = new List<ImageFile>();
            for (int i = 0; i < 7; i++)
            {
                using var image = TinyModels.RandomImage(40, 56, 30 + i);
                image.Save(Path.Combine(folder, $"{i}.png"));
                files.Add(new ImageFile { Id = 10 + i, Path = $"{i}.png", Tags = Enumerable.Repeat((float)i, i % 3 + 1).ToArray() });
            }
            var mlContext = new MLContext(seed: 1);
            var paths = mlContext.Data.LoadFromEnumerable(files);
            var images = mlContext.Transforms.LoadImages("Image", folder, "Path").Fit(paths).Transform(paths);
            var counting = new CountingDetection(_detector);
            var view = NewView(images, counting, batchSize: 3);
            // ML.NET's own key-to-value mapping must read the labels' key values.
            var withNames = mlContext.Transforms.Conversion.MapKeyToValue("ClassNames", "PredictedLabel").Fit(view).Transform(view);

            var rows = mlContext.Data.CreateEnumerable<DetectionRow>(withNames, reuseRowObject: false).ToList();

            Assert.That(counting.Calls, Is.EqualTo(3));
            Assert.That(counting.ImagesPerCall, Is.EqualTo(new[] { 3, 3, 1 }));
            Assert.That(rows.Select(r => r.Id), Is.EqualTo(new[] { 10, 11, 12, 13, 14, 15, 16 }));
            for (int i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                Assert.That(row.Tags, Is.EqualTo(Enumerable.Repeat((float)i, i % 3 + 1).ToArray()), $"row {i} Tags");
                using var image = MLImage.CreateFromFile(Path.Combine(folder, $"{i}.png"));
                var expected = _detector.Detect([image], Classes, Settings)[0];
                Assert.That(expected.Count, Is.GreaterThan(0));
                Assert.That(row.PredictedLabel, Is.EqualTo(expected.Classes.Select(c => (uint)(c + 1)).ToArray()), $"row {i} labels");
                Assert.That(row.ClassNames, Is.EqualTo(expected.Classes.Select(c => Classes.Names[c]).ToArray()), $"row {i} names");
                Assert.That(row.Score, Is.EqualTo(expected.Scores).Within(1e-5f), $"row {i} scores");
                Assert.That(row.PredictedBoundingBoxes, Is.EqualTo(expected.Boxes).Within(1e-3f), $"row {i} boxes");
                Assert.That(row.PredictedMasks, Is.EqualTo(expected.Masks!.Select(CocoMask.ToCompressedString).ToArray()), $"row {i} masks");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void OutputsEqualWhatTheDetectorReturnedForEachRow()
    {
        var input = new GeneratedImageDataView(rows: 5);
        var counting = new CountingDetection(_detector);
        var view = NewView(input, counting, batchSize: 2, new FVlmOptions { AddDetectionScoreColumn = true, AddVlmScoreColumn = true });

        var rows = ReadAll(view);

        var returned = counting.Results;
        Assert.That(returned, Has.Count.EqualTo(5));
        for (int i = 0; i < 5; i++)
        {
            Assert.That(rows[i].Id, Is.EqualTo(i));
            Assert.That(rows[i].Tags, Is.EqualTo(Enumerable.Range(1, i % 3 + 1).Select(k => (float)(i * k)).ToArray()), $"row {i} Tags");
            Assert.That(rows[i].RowId, Is.EqualTo(new DataViewRowId((ulong)i, 7)), "ids come from the input");
            Assert.That(rows[i].Position, Is.EqualTo(i));
            Assert.That(rows[i].Labels, Is.EqualTo(returned[i].Classes.Select(c => (uint)(c + 1)).ToArray()));
            Assert.That(rows[i].Scores, Is.EqualTo(returned[i].Scores));
            Assert.That(rows[i].Boxes, Is.EqualTo(returned[i].Boxes));
            Assert.That(rows[i].DetectionScores, Is.EqualTo(returned[i].DetectionScores));
            Assert.That(rows[i].VlmScores, Is.EqualTo(returned[i].VlmScores));
            Assert.That(rows[i].Boxes, Has.Length.EqualTo(4 * rows[i].Labels.Length));
        }
    }

    [Test]
    public void PassThroughColumnsDoNotRunTheDetector()
    {
        var input = new GeneratedImageDataView(rows: 5);
        var counting = new CountingDetection(_detector);
        var view = NewView(input, counting, batchSize: 2);

        var ids = new List<int>();
        using (var cursor = view.GetRowCursor([view.Schema["Id"], view.Schema["Image"]]))
        {
            var getId = cursor.GetGetter<int>(view.Schema["Id"]);
            var getImage = cursor.GetGetter<MLImage>(view.Schema["Image"]);
            while (cursor.MoveNext())
            {
                int id = 0;
                getId(ref id);
                ids.Add(id);
                MLImage image = null!;
                getImage(ref image);
                Assert.That(image.Width, Is.EqualTo(64));
                Assert.That(cursor.IsColumnActive(view.Schema["Score"]), Is.False);
                var error = Assert.Throws<InvalidOperationException>(() => cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]));
                Assert.That(error!.Message, Does.Contain("'Score'").And.Contain("not requested"));
            }
        }

        Assert.That(ids, Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
        Assert.That(counting.Calls, Is.Zero);
        Assert.That(view.GetRowCount(), Is.EqualTo(5));
    }

    [Test]
    public void ReadingManyRowsHoldsOneBatch()
    {
        // 200 rows through the real detector take a minute on a shared CPU; a cheap detection that
        // depends on each image's first pixel checks the same buffering and keeps rows aligned.
        const int batchSize = 4;
        var input = new GeneratedImageDataView(rows: 200, height: 32, width: 32);
        int maxLive = 0;
        var view = new DetectionDataView(input, new DetectionColumns(input.Schema, FVlmOptionsValidator.Columns(new FVlmOptions()), Classes.Names), images =>
        {
            // Images of earlier batches must be gone by the time a batch is detected.
            maxLive = Math.Max(maxLive, input.LiveImages());
            Assert.That(images, Has.Count.InRange(1, batchSize));
            return images.Select(FirstPixelDetection).ToArray();
        }, batchSize);

        int rows = 0;
        using (var cursor = view.GetRowCursor([view.Schema["Id"], view.Schema["Score"], view.Schema["PredictedLabel"]]))
        {
            var getId = cursor.GetGetter<int>(view.Schema["Id"]);
            var getScore = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
            var getLabel = cursor.GetGetter<VBuffer<uint>>(view.Schema["PredictedLabel"]);
            VBuffer<float> scores = default;
            VBuffer<uint> labels = default;
            while (cursor.MoveNext())
            {
                int id = 0;
                getId(ref id);
                getScore(ref scores);
                getLabel(ref labels);
                using var image = input.MakeImage(id);
                var expected = FirstPixelDetection(image);
                Assert.That(id, Is.EqualTo(rows));
                Assert.That(scores.DenseValues(), Is.EqualTo(expected.Scores), $"row {id}");
                Assert.That(labels.DenseValues(), Is.EqualTo(new[] { (uint)expected.Classes[0] + 1 }), $"row {id}");
                rows++;
            }
        }

        Assert.That(rows, Is.EqualTo(200));
        // One image per row, and the first row's once more: the cursor reads it twice to learn that
        // the input makes a new image per read, so that the images are its own to dispose.
        Assert.That(input.Created, Has.Count.EqualTo(201));
        Assert.That(maxLive, Is.EqualTo(batchSize));
        Assert.That(input.LiveImages(), Is.Zero, "images read only for detection are disposed after their batch");
    }

    [Test]
    public void ImagesTheInputHoldsAreNotDisposed()
    {
        // An IDataView over the user's own MLImage objects hands out the same objects at every read:
        // scoring must leave them usable, and scoring twice must give the same detections.
        var mlContext = new MLContext();
        var rows = Enumerable.Range(0, 7).Select(i => new HeldImage { Image = TinyModels.RandomImage(32, 32, 300 + i) }).ToArray();
        try
        {
            var input = mlContext.Data.LoadFromEnumerable(rows);
            var view = new DetectionDataView(input, new DetectionColumns(input.Schema, FVlmOptionsValidator.Columns(new FVlmOptions()), Classes.Names), images => images.Select(FirstPixelDetection).ToArray(), 3);
            float[] first = ScoresOf(view), second = ScoresOf(view);
            Assert.That(rows.Select(r => GeneratedImageDataView.IsDisposed(r.Image!)), Is.All.False);
            Assert.That(second, Is.EqualTo(first));
            Assert.That(first, Is.EqualTo(rows.Select(r => r.Image!.Pixels[0] / 255f)));
        }
        finally
        {
            foreach (var row in rows) row.Image?.Dispose();
        }

        static float[] ScoresOf(IDataView view)
        {
            var scores = new List<float>();
            using var cursor = view.GetRowCursor([view.Schema["Score"]]);
            var getScore = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
            VBuffer<float> value = default;
            while (cursor.MoveNext())
            {
                getScore(ref value);
                scores.AddRange(value.DenseValues());
            }
            return scores.ToArray();
        }
    }

    private sealed class HeldImage
    {
        [ImageType(32, 32)]
        public MLImage? Image { get; set; }
    }

    /// <summary>One whole-image detection whose class and score come from the first pixel's blue byte.</summary>
    private static ImageDetections FirstPixelDetection(MLImage image)
    {
        byte blue = image.Pixels[0];
        return new ImageDetections([0, 0, image.Width, image.Height], [blue % 4], [blue / 255f], [1f], [1f], null);
    }

    [Test]
    public void GettersNameTheColumnOnWrongTypes()
    {
        var input = new GeneratedImageDataView(rows: 1);
        var view = NewView(input, new CountingDetection(_detector), batchSize: 2);
        using var cursor = view.GetRowCursor(view.Schema);

        var error = Assert.Throws<InvalidOperationException>(() => cursor.GetGetter<VBuffer<int>>(view.Schema["PredictedLabel"]));

        Assert.That(error!.Message, Does.Contain("'PredictedLabel'").And.Contain("UInt32"));
        Assert.That(cursor.IsColumnActive(view.Schema["PredictedMasks"]), Is.True);
    }

    [Test]
    public void RowMapperGivesTheViewsOutputsOncePerRow()
    {
        var input = new GeneratedImageDataView(rows: 3);
        var counting = new CountingDetection(_detector);
        var columns = new DetectionColumns(input.Schema, FVlmOptionsValidator.Columns(new FVlmOptions()), Classes.Names);
        var mapper = new DetectionRowMapper(columns, counting.Detect);
        var expected = ReadAll(new DetectionDataView(input, columns, _detector.AsDelegate(Classes, Settings), 3));

        Assert.That(mapper.GetDependencies([mapper.OutputSchema["Id"]]).Select(c => c.Name), Is.EqualTo(new[] { "Id" }));
        Assert.That(mapper.GetDependencies([mapper.OutputSchema["Tags"], mapper.OutputSchema["Score"]]).Select(c => c.Name), Is.EqualTo(new[] { "Image", "Tags" }));

        using var inputCursor = input.GetRowCursor(mapper.GetDependencies(mapper.OutputSchema));
        var row = mapper.GetRow(inputCursor, mapper.OutputSchema);
        var getId = row.GetGetter<int>(row.Schema["Id"]);
        var getLabels = row.GetGetter<VBuffer<uint>>(row.Schema["PredictedLabel"]);
        var getScores = row.GetGetter<VBuffer<float>>(row.Schema["Score"]);
        var getMasks = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(row.Schema["PredictedMasks"]);
        int n = 0;
        while (inputCursor.MoveNext())
        {
            int id = 0;
            VBuffer<uint> labels = default;
            VBuffer<float> scores = default, again = default;
            VBuffer<ReadOnlyMemory<char>> masks = default;
            getId(ref id);
            getLabels(ref labels);
            getScores(ref scores);
            getScores(ref again);
            getMasks(ref masks);
            Assert.That(id, Is.EqualTo(n));
            Assert.That(labels.DenseValues(), Is.EqualTo(expected[n].Labels));
            Assert.That(scores.DenseValues(), Is.EqualTo(expected[n].Scores).Within(1e-5f));
            Assert.That(again.DenseValues(), Is.EqualTo(scores.DenseValues()));
            Assert.That(masks.DenseValues().Select(m => m.ToString()), Is.EqualTo(expected[n].Masks));
            Assert.That(counting.Calls, Is.EqualTo(n + 1), "one detection per row, whatever the number of getters called");
            n++;
        }
        Assert.That(n, Is.EqualTo(3));
        Assert.That(counting.ImagesPerCall, Is.All.EqualTo(1));
    }

    private static DetectionDataView NewView(IDataView input, CountingDetection counting, int batchSize, FVlmOptions? options = null) =>
        new(input, new DetectionColumns(input.Schema, FVlmOptionsValidator.Columns(options ?? new FVlmOptions()), Classes.Names), counting.Detect, batchSize);

    /// <summary>Reads every column of <paramref name="view"/> (made over a <see cref="GeneratedImageDataView"/>) by hand.</summary>
    private static List<ViewRow> ReadAll(IDataView view)
    {
        var rows = new List<ViewRow>();
        var s = view.Schema;
        bool scores = s.GetColumnOrNull("VlmScore") is not null;
        using var cursor = view.GetRowCursor(s);
        var id = cursor.GetGetter<int>(s["Id"]);
        var tags = cursor.GetGetter<VBuffer<float>>(s["Tags"]);
        var labels = cursor.GetGetter<VBuffer<uint>>(s["PredictedLabel"]);
        var score = cursor.GetGetter<VBuffer<float>>(s["Score"]);
        var boxes = cursor.GetGetter<VBuffer<float>>(s["PredictedBoundingBoxes"]);
        var masks = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(s["PredictedMasks"]);
        var rowId = cursor.GetIdGetter();
        var det = scores ? cursor.GetGetter<VBuffer<float>>(s["DetectionScore"]) : null;
        var vlm = scores ? cursor.GetGetter<VBuffer<float>>(s["VlmScore"]) : null;
        while (cursor.MoveNext())
        {
            var row = new ViewRow { Position = cursor.Position };
            id(ref row.Id);
            rowId(ref row.RowId);
            row.Tags = Read(tags);
            row.Labels = Read(labels);
            row.Scores = Read(score);
            row.Boxes = Read(boxes);
            row.Masks = Read(masks).Select(m => m.ToString()).ToArray();
            row.DetectionScores = det is null ? [] : Read(det);
            row.VlmScores = vlm is null ? [] : Read(vlm);
            rows.Add(row);
        }
        return rows;
    }

    private static T[] Read<T>(ValueGetter<VBuffer<T>> getter)
    {
        VBuffer<T> value = default;
        getter(ref value);
        return value.DenseValues().ToArray();
    }

    private sealed class ViewRow
    {
        public long Position;
        public int Id;
        public DataViewRowId RowId;
        public float[] Tags = [], Scores = [], Boxes = [], DetectionScores = [], VlmScores = [];
        public uint[] Labels = [];
        public string[] Masks = [];
    }

    /// <summary>The real detector behind a delegate that records each call.</summary>
    private sealed class CountingDetection(OpenVocabularyDetector detector)
    {
        public int Calls => ImagesPerCall.Count;

        public List<int> ImagesPerCall { get; } = [];

        public List<ImageDetections> Results { get; } = [];

        public IReadOnlyList<ImageDetections> Detect(IReadOnlyList<MLImage> images)
        {
            ImagesPerCall.Add(images.Count);
            var results = detector.Detect(images, Classes, Settings);
            Results.AddRange(results);
            return results;
        }
    }

    public sealed class ImageFile
    {
        public int Id;
        public string Path = "";
        public float[] Tags = [];
    }

    public sealed class DetectionRow
    {
        public int Id;
        public float[] Tags = [];
        public uint[] PredictedLabel = [];
        public string[] ClassNames = [];
        public float[] Score = [];
        public float[] PredictedBoundingBoxes = [];
        public string[] PredictedMasks = [];
    }
}

internal static class DetectorDelegates
{
    /// <summary>The detection delegate the transformer hands to the view.</summary>
    public static Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> AsDelegate(this OpenVocabularyDetector detector, Vocabulary vocabulary, InferenceSettings settings) =>
        images => detector.Detect(images, vocabulary, settings);
}
