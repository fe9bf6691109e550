using System.Text;
using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Tests.Data;

public class CocoJsonTests
{
    // Three segmentation forms; an LVIS-style image without file_name; an annotation without area.
    private const string Dataset = """
        {"info": {"description": "tiny", "year": 2024},
         "images": [
           {"id": 1, "file_name": "a.png", "width": 2, "height": 3, "extra": [1, {"x": 2}]},
           {"id": 2, "coco_url": "http://images.cocodataset.org/train2017/000000000009.jpg", "width": 6, "height": 6,
            "neg_category_ids": [7], "not_exhaustive_category_ids": []}],
         "annotations": [
           {"id": 10, "image_id": 2, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0,
            "segmentation": [[1, 1, 4, 1, 4, 4, 1, 4]]},
           {"id": 11, "image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2], "area": 3, "iscrowd": 1,
            "segmentation": {"size": [3, 2], "counts": [1, 1, 1, 2, 1]}},
           {"id": 12, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2],
            "segmentation": {"counts": "11110", "size": [3, 2]}}],
         "categories": [
           {"id": 1, "name": "circle", "supercategory": "shape"},
           {"id": 7, "name": "star", "frequency": "r", "synonyms": ["star", "pentagram"], "def": "a star"}]}
        """;

    [Test]
    public void ReadsAllThreeSegmentationFormsAndLvisFields()
    {
        CocoDataset dataset = Read(Dataset);
        Assert.That(dataset.Info!.Description, Is.EqualTo("tiny"));
        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        Assert.That(dataset.Images[1].FileName, Is.EqualTo("000000000009.jpg"));
        Assert.That(dataset.Images[1].NegCategoryIds, Is.EqualTo(new long[] { 7 }));
        Assert.That(dataset.Images[1].NotExhaustiveCategoryIds, Is.Empty);

        CocoAnnotation polygon = dataset.Annotations[0];
        Assert.That(polygon.Segmentation!.Polygons![0], Is.EqualTo(new double[] { 1, 1, 4, 1, 4, 4, 1, 4 }));
        Assert.That(CocoMask.Area(polygon.Segmentation.ToRle(6, 6)), Is.EqualTo(9));

        CocoAnnotation uncompressed = dataset.Annotations[1];
        Assert.That(uncompressed.IsCrowd, Is.EqualTo(1));
        Assert.That(uncompressed.Segmentation!.IsCompressed, Is.False);
        Assert.That(uncompressed.Segmentation.Rle!.Counts.ToArray(), Is.EqualTo(new uint[] { 1, 1, 1, 2, 1 }));

        CocoAnnotation compressed = dataset.Annotations[2];
        Assert.That(compressed.Segmentation!.IsCompressed, Is.True);
        Assert.That(compressed.Segmentation.Rle, Is.EqualTo(uncompressed.Segmentation.Rle));
        Assert.That(compressed.Area, Is.EqualTo(3), "absent area is the mask area");

        CocoCategory star = dataset.Categories[1];
        Assert.That(star.Frequency, Is.EqualTo("r"));
        Assert.That(star.Synonyms, Is.EqualTo(new[] { "star", "pentagram" }));
        Assert.That(star.Definition, Is.EqualTo("a star"));
    }

    [Test]
    public void WriterIsCompactDeterministicAndOmitsNulls()
    {
        var dataset = new CocoDataset
        {
            Images = [new CocoImage { Id = 1, FileName = "a.png", Width = 2, Height = 3 }],
            Annotations =
            [
                new CocoAnnotation
                {
                    Id = 5, ImageId = 1, CategoryId = 3, Bbox = [0.5, 0, 2, 1.25], Area = 3,
                    Segmentation = CocoSegmentation.FromRle(new RleMask(3, 2, [1, 1, 1, 2, 1])),
                },
            ],
            Categories = [new CocoCategory { Id = 3, Name = "señal" }],
        };
        string json = Write(dataset);
        Assert.That(json, Is.EqualTo(
            "{\"images\":[{\"id\":1,\"file_name\":\"a.png\",\"width\":2,\"height\":3}]," +
            "\"annotations\":[{\"id\":5,\"image_id\":1,\"category_id\":3,\"segmentation\":{\"size\":[3,2],\"counts\":\"11110\"}," +
            "\"area\":3,\"bbox\":[0.5,0,2,1.25],\"iscrowd\":0}]," +
            "\"categories\":[{\"id\":3,\"name\":\"señal\"}]}"));
        Assert.That(Write(Read(json)), Is.EqualTo(json), "read then write gives the same bytes");
    }

    [Test]
    public void RoundTripKeepsEveryField()
    {
        string once = Write(Read(Dataset));
        Assert.That(Write(Read(once)), Is.EqualTo(once));
        Assert.That(once, Does.Contain("\"counts\":[1,1,1,2,1]"));
        Assert.That(once, Does.Contain("\"neg_category_ids\":[7]"));
        Assert.That(once, Does.Contain("\"def\":\"a star\""));
    }

    [Test]
    public void ImageWithoutFileNameIsReadAndWrittenWithout()
    {
        // pycocotools and lvis-api never read file_name, so a file made for evaluation may leave it out
        // (LoadFromCocoJson, which reads the images, still requires it: CocoCatalogTests).
        string json = Dataset.Replace("\"file_name\": \"a.png\", ", "");
        CocoDataset dataset = Read(json);
        Assert.That(dataset.Images[0].FileName, Is.Empty);
        Assert.That(Write(dataset), Does.StartWith("{\"info\":{\"description\":\"tiny\",\"year\":2024},\"images\":[{\"id\":1,\"width\":2,"));
    }

    [Test]
    public void WrongBoxLengthNamesFileAndField()
    {
        string bad = Dataset.Replace("\"bbox\": [0, 0, 2, 2], \"area\": 3", "\"bbox\": [0, 0, 2], \"area\": 3");
        var e = Assert.Throws<CocoFormatException>(() => Read(bad, "bad.json"))!;
        Assert.That(e.Message, Is.EqualTo("bad.json: annotations[1].bbox: expected 4 numbers [x, y, w, h], got 3"));
    }

    [Test]
    public void MissingFieldNamesFileAndField()
    {
        string bad = Dataset.Replace("\"id\": 12, \"image_id\": 1,", "\"id\": 12,");
        var e = Assert.Throws<CocoFormatException>(() => Read(bad, "bad.json"))!;
        Assert.That(e.Message, Is.EqualTo("bad.json: annotations[2].image_id: missing required field"));
        string noWidth = Dataset.Replace("\"width\": 2, ", "");
        e = Assert.Throws<CocoFormatException>(() => Read(noWidth, "bad.json"))!;
        Assert.That(e.Message, Is.EqualTo("bad.json: images[0].width: missing required field"));
    }

    [Test]
    public void BadValuesNameTheirField()
    {
        var e = Assert.Throws<CocoFormatException>(() => Read(Dataset.Replace("\"11110\"", "\"1111\""), "f.json"))!;
        Assert.That(e.Field, Is.EqualTo("annotations[2].segmentation.counts"));
        e = Assert.Throws<CocoFormatException>(() => Read(Dataset.Replace("\"category_id\": 7", "\"category_id\": 8"), "f.json"))!;
        Assert.That(e.Message, Is.EqualTo("f.json: annotations[1].category_id: 8 is not the id of a category in the file"));
        e = Assert.Throws<CocoFormatException>(() => Read(Dataset.Replace("\"width\": 6", "\"width\": \"six\""), "f.json"))!;
        Assert.That(e.Message, Is.EqualTo("f.json: images[1].width: expected an integer, got the string \"six\""));
        e = Assert.Throws<CocoFormatException>(() => Read("{\"images\": [", "f.json"))!;
        Assert.That(e.SourceName, Is.EqualTo("f.json"));
    }

    [Test]
    public void ReadsResultsWithoutIds()
    {
        const string results = """
            [{"image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4], "score": 0.75},
             {"image_id": 2, "category_id": 1, "segmentation": {"size": [3, 2], "counts": "11110"}, "score": 0.5}]
            """;
        List<CocoAnnotation> read = CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes(results)));
        Assert.That(read, Has.Count.EqualTo(2));
        Assert.That(read[0].Bbox, Is.EqualTo(new double[] { 1, 2, 3, 4 }));
        Assert.That(read[0].Score, Is.EqualTo(0.75));
        Assert.That(read[1].Segmentation!.Rle!.Area, Is.EqualTo(3));
        var e = Assert.Throws<CocoFormatException>(() =>
            CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes("[{\"image_id\": 1, \"category_id\": 7, \"bbox\": [1, 2, 3, 4]}]")), "r.json"))!;
        Assert.That(e.Message, Is.EqualTo("r.json: [0].score: missing required field"));
    }

    [Test]
    public void SkipsUnknownFieldsBeyondTheFirstStreamBuffer()
    {
        // A stream is read in buffers of a few KB; past the first one the reader is not on its final block and
        // Utf8JsonReader.Skip() throws, so unknown fields (pycocotools' "ignore", keypoints, tool extras) must be
        // skipped with TrySkip. 2,000 entries of each kind put most of them beyond the first buffer.
        const int count = 2000;
        var images = string.Join(",", Enumerable.Range(1, count).Select(i =>
            $"{{\"id\": {i}, \"file_name\": \"{i}.png\", \"width\": 4, \"height\": 4, \"extra\": {{\"a\": [1, 2]}}}}"));
        var annotations = string.Join(",", Enumerable.Range(1, count).Select(i =>
            $"{{\"id\": {i}, \"image_id\": {i}, \"category_id\": 1, \"bbox\": [0, 0, 2, 2], \"area\": 4, \"iscrowd\": 0, "
            + $"\"ignore\": 1, \"keypoints\": [1, 2, 2], \"segmentation\": {{\"size\": [4, 4], \"counts\": \"02208\", \"note\": \"x\"}}}}"));
        string json = $"{{\"images\": [{images}], \"annotations\": [{annotations}], \"categories\": [{{\"id\": 1, \"name\": \"a\", \"extra\": true}}]}}";

        CocoDataset dataset = Read(json);
        Assert.That(dataset.Images, Has.Count.EqualTo(count));
        Assert.That(dataset.Annotations, Has.Count.EqualTo(count));
        Assert.That(dataset.Annotations[^1].Id, Is.EqualTo(count));
        Assert.That(dataset.Annotations[^1].Segmentation!.Rle!.Area, Is.EqualTo(4));

        var results = "[" + string.Join(",", Enumerable.Range(1, count).Select(i =>
            $"{{\"image_id\": {i}, \"category_id\": 1, \"bbox\": [0, 0, 2, 2], \"score\": 0.5, \"extra\": [\"x\"]}}")) + "]";
        List<CocoAnnotation> read = CocoJson.ReadResults(new MemoryStream(Encoding.UTF8.GetBytes(results)));
        Assert.That(read, Has.Count.EqualTo(count));
        Assert.That(read[^1].ImageId, Is.EqualTo(count));
    }

    private static CocoDataset Read(string json, string name = "test.json") =>
        CocoJson.ReadDataset(new MemoryStream(Encoding.UTF8.GetBytes(json)), name);

    private static string Write(CocoDataset dataset)
    {
        var stream = new MemoryStream();
        CocoJson.WriteDataset(dataset, stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
