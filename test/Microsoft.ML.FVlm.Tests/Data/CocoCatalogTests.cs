using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Tests.Data;

public class CocoCatalogTests
{
    // A file "made elsewhere": categories out of id order with gaps (7, 1, 3); image 1 is 4 wide and
    // 3 high with an uncompressed RLE, a compressed RLE and a crowd region; image 2 has two polygons;
    // image 3 has no annotations.
    private const string Json = """
        {
          "images": [
            {"id": 1, "file_name": "a.png", "width": 4, "height": 3},
            {"id": 2, "file_name": "sub/b.png", "width": 6, "height": 6},
            {"id": 3, "file_name": "c.png", "width": 5, "height": 5}
          ],
          "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 1, 2, 2], "area": 4, "iscrowd": 0,
             "segmentation": {"size": [3, 4], "counts": [1, 2, 1, 2, 6]}},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 3], "area": 3, "iscrowd": 0,
             "segmentation": {"size": [3, 4], "counts": "039"}},
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [2, 0, 2, 3], "area": 6, "iscrowd": 1,
             "segmentation": {"size": [3, 4], "counts": [6, 6]}},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0,
             "segmentation": [[1, 1, 4, 1, 4, 4, 1, 4]]},
            {"id": 5, "image_id": 2, "category_id": 3, "bbox": [0, 0, 4, 4], "area": 6, "iscrowd": 0,
             "segmentation": [[0, 0, 4, 0, 0, 4]]}
          ],
          "categories": [
            {"id": 7, "name": "seven"}, {"id": 1, "name": "one"}, {"id": 3, "name": "three"}
          ]
        }
        """;

    private string _folder = "";

    [SetUp]
    public void WriteFiles()
    {
        _folder = Path.Combine(Path.GetTempPath(), "fvlm-coco-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(_folder, "sub"));
        File.WriteAllText(Path.Combine(_folder, "instances.json"), Json);
        WritePng(Path.Combine(_folder, "a.png"), 4, 3);
        WritePng(Path.Combine(_folder, "sub", "b.png"), 6, 6);
        WritePng(Path.Combine(_folder, "c.png"), 5, 5);
    }

    [TearDown]
    public void DeleteFiles() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void LoadsBoxesLabelsAndMasksWithoutCrowd()
    {
        IDataView view = Load();
        List<Row> rows = ReadRows(view);
        Assert.That(rows.Select(r => r.ImageId), Is.EqualTo(new long[] { 1, 2, 3 }));

        // Keys follow ascending category id: 1 -> "one", 3 -> "three", 7 -> "seven".
        Assert.That(rows[0].Labels, Is.EqualTo(new uint[] { 2, 3 }));
        Assert.That(rows[0].Boxes, Is.EqualTo(new float[] { 0, 1, 2, 3, 0, 0, 1, 3 }));
        Assert.That(rows[0].MaskAreas, Is.EqualTo(new long[] { 4, 3 }));
        Assert.That(rows[0].Crowd, Is.EqualTo(new[] { false, false }));
        Assert.That((rows[0].Width, rows[0].Height), Is.EqualTo((4, 3)));

        Assert.That(rows[1].Labels, Is.EqualTo(new uint[] { 1, 2 }));
        Assert.That(rows[1].Boxes, Is.EqualTo(new float[] { 1, 1, 4, 4, 0, 0, 4, 4 }));
        Assert.That(rows[1].MaskAreas, Is.EqualTo(new long[] { 9, 6 }), "square 3x3 and the triangle x + y < 3");
        Assert.That(rows[1].Path, Is.EqualTo(Path.Combine(_folder, "sub", "b.png")));

        Assert.That(rows[2].Labels, Is.Empty);
        Assert.That(rows[2].Boxes, Is.Empty);

        var names = default(VBuffer<ReadOnlyMemory<char>>);
        view.Schema[CocoColumnNames.Label].Annotations.GetValue("KeyValues", ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EqualTo(new[] { "one", "three", "seven" }));
        var labelType = (VectorDataViewType)view.Schema[CocoColumnNames.Label].Type;
        Assert.That(labelType.ItemType, Is.EqualTo(new KeyDataViewType(typeof(uint), 3)));
        Assert.That(labelType.IsKnownSize, Is.False);
    }

    [Test]
    public void ImageColumnLoadsImagesOfTheFileSize()
    {
        IDataView view = Load();
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema[CocoColumnNames.Image]]);
        ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(view.Schema[CocoColumnNames.Image]);
        var sizes = new List<(int, int)>();
        while (cursor.MoveNext())
        {
            MLImage image = null!;
            getImage(ref image);
            sizes.Add((image.Width, image.Height));
            image.Dispose();
        }
        Assert.That(sizes, Is.EqualTo(new[] { (4, 3), (6, 6), (5, 5) }));
    }

    [Test]
    public void ImagesAreReadOnlyWhenRequested()
    {
        // Loading does not touch the images: a view over missing files is made fine, and only
        // reading the Image column fails.
        File.Delete(Path.Combine(_folder, "a.png"));
        IDataView view = Load();
        Assert.That(ReadRows(view), Has.Count.EqualTo(3));
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema[CocoColumnNames.Image]]);
        ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(view.Schema[CocoColumnNames.Image]);
        Assert.That(cursor.MoveNext(), Is.True);
        MLImage image = null!;
        Assert.Catch(() => getImage(ref image));
    }

    [Test]
    public void IncludeCrowdKeepsColumnsAligned()
    {
        List<Row> rows = ReadRows(Load(new CocoLoaderOptions { IncludeCrowd = true }));
        Assert.That(rows[0].Labels, Is.EqualTo(new uint[] { 2, 3, 1 }));
        Assert.That(rows[0].Crowd, Is.EqualTo(new[] { false, false, true }));
        Assert.That(rows[0].Boxes.Skip(8), Is.EqualTo(new float[] { 2, 0, 4, 3 }));
        Assert.That(rows[0].MaskAreas, Is.EqualTo(new long[] { 4, 3, 6 }));
    }

    [Test]
    public void CategorySelectionNarrowsTheKeySpace()
    {
        IDataView view = Load(new CocoLoaderOptions { CategoryIds = [3], IncludeImagesWithoutAnnotations = false });
        List<Row> rows = ReadRows(view);
        Assert.That(rows.Select(r => r.ImageId), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(rows[0].Labels, Is.EqualTo(new uint[] { 1 }));
        Assert.That(rows[1].Labels, Is.EqualTo(new uint[] { 1 }));
        Assert.That(rows[1].Boxes, Is.EqualTo(new float[] { 0, 0, 4, 4 }));
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        view.Schema[CocoColumnNames.Label].Annotations.GetValue("KeyValues", ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EqualTo(new[] { "three" }));
        Assert.Throws<ArgumentException>(() => Load(new CocoLoaderOptions { CategoryIds = [2] }));
    }

    [Test]
    public void ShuffledCursorVisitsEveryRowOnce()
    {
        IDataView view = Load();
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema[CocoColumnNames.ImageId]], new Random(3));
        ValueGetter<long> getId = cursor.GetGetter<long>(view.Schema[CocoColumnNames.ImageId]);
        var ids = new List<long>();
        while (cursor.MoveNext())
        {
            long id = 0;
            getId(ref id);
            ids.Add(id);
        }
        Assert.That(ids.Order(), Is.EqualTo(new long[] { 1, 2, 3 }));
    }

    [Test]
    public void BadJsonNamesFileAndField()
    {
        string path = Path.Combine(_folder, "bad.json");
        File.WriteAllText(path, Json.Replace("\"bbox\": [0, 0, 1, 3]", "\"bbox\": [0, 0, 1]"));
        var e = Assert.Throws<CocoFormatException>(() => new MLContext().Data.LoadFromCocoJson(path, _folder))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: annotations[1].bbox: expected 4 numbers [x, y, w, h], got 3"));

        File.WriteAllText(path, Json.Replace("\"file_name\": \"c.png\", ", ""));
        e = Assert.Throws<CocoFormatException>(() => new MLContext().Data.LoadFromCocoJson(path, _folder))!;
        Assert.That(e.Message, Does.StartWith($"{path}: images[2].file_name: missing required field"));
    }

    private IDataView Load(CocoLoaderOptions? options = null) =>
        new MLContext().Data.LoadFromCocoJson(Path.Combine(_folder, "instances.json"), _folder, options);

    private sealed record Row(long ImageId, string Path, int Width, int Height, uint[] Labels, float[] Boxes, long[] MaskAreas, bool[] Crowd);

    private static List<Row> ReadRows(IDataView view)
    {
        DataViewSchema s = view.Schema;
        string[] names = [CocoColumnNames.ImageId, CocoColumnNames.ImagePath, CocoColumnNames.ImageWidth, CocoColumnNames.ImageHeight,
            CocoColumnNames.Label, CocoColumnNames.BoundingBoxes, CocoColumnNames.Masks, CocoColumnNames.IsCrowd];
        using DataViewRowCursor cursor = view.GetRowCursor(names.Select(n => s[n]));
        var id = cursor.GetGetter<long>(s[CocoColumnNames.ImageId]);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(s[CocoColumnNames.ImagePath]);
        var width = cursor.GetGetter<int>(s[CocoColumnNames.ImageWidth]);
        var height = cursor.GetGetter<int>(s[CocoColumnNames.ImageHeight]);
        var label = cursor.GetGetter<VBuffer<uint>>(s[CocoColumnNames.Label]);
        var boxes = cursor.GetGetter<VBuffer<float>>(s[CocoColumnNames.BoundingBoxes]);
        var masks = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(s[CocoColumnNames.Masks]);
        var crowd = cursor.GetGetter<VBuffer<bool>>(s[CocoColumnNames.IsCrowd]);
        var rows = new List<Row>();
        while (cursor.MoveNext())
        {
            long i = 0; ReadOnlyMemory<char> p = default; int w = 0, h = 0;
            VBuffer<uint> l = default; VBuffer<float> b = default; VBuffer<ReadOnlyMemory<char>> m = default; VBuffer<bool> c = default;
            id(ref i); path(ref p); width(ref w); height(ref h); label(ref l); boxes(ref b); masks(ref m); crowd(ref c);
            long[] areas = m.DenseValues().Select(x => CocoMask.Area(CocoMask.FromCompressedString(x.ToString(), h, w))).ToArray();
            rows.Add(new Row(i, p.ToString(), w, h, l.DenseValues().ToArray(), b.DenseValues().ToArray(), areas, c.DenseValues().ToArray()));
        }
        return rows;
    }

    private static void WritePng(string path, int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(new SKColor(200, 30, 30));
        using SKImage image = SKImage.FromBitmap(bitmap);
        using SKData data = image.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("PNG encoding failed");
        File.WriteAllBytes(path, data.ToArray());
    }
}
