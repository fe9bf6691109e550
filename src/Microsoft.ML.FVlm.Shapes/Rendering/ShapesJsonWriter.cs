using System.Text.Encodings.Web;
using System.Text.Json;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// Writes a split as COCO / LVIS JSON (deterministic bytes: fixed field order, no timestamps).
/// Images: <c>id</c> (index + 1), <c>file_name</c> (relative to the JSON file's folder), <c>width</c>,
/// <c>height</c>, <c>neg_category_ids</c>, <c>not_exhaustive_category_ids</c>. Annotations: ids 1, 2, ... in
/// image order; <c>bbox</c>, <c>area</c>, <c>iscrowd</c> 0, <c>segmentation</c> as compressed RLE. Categories:
/// <c>frequency</c>, and for the training splits <c>image_count</c> / <c>instance_count</c> counted from the
/// annotations written. The captions split adds <c>caption</c> and <c>kind</c> ("crop" / "scene") to images
/// and <c>caption</c>, <c>color</c>, <c>style</c> to annotations.
/// </summary>
internal static class ShapesJsonWriter
{
    public static void Write(Stream stream, ShapesOptions options, IReadOnlyList<ImageRecord> images)
    {
        bool captions = options.Split == ShapesSplit.Captions;
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        WriteInfo(json, options);

        json.WriteStartArray("images");
        foreach (var image in images)
        {
            json.WriteStartObject();
            json.WriteNumber("id", image.Index + 1);
            json.WriteString("file_name", image.FileName);
            json.WriteNumber("width", image.Size);
            json.WriteNumber("height", image.Size);
            WriteIds(json, "neg_category_ids", image.NegativeCategoryIds);
            WriteIds(json, "not_exhaustive_category_ids", image.NotExhaustiveCategoryIds);
            if (captions)
            {
                json.WriteString("kind", image.IsCrop ? "crop" : "scene");
                json.WriteString("caption", image.Caption);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();

        var imageCount = new int[ShapesWorld.Categories.Count + 1];
        var instanceCount = new int[ShapesWorld.Categories.Count + 1];
        long annotationId = 1;
        json.WriteStartArray("annotations");
        foreach (var image in images)
        {
            foreach (var group in image.Annotations.GroupBy(a => a.Category.Id))
            {
                imageCount[group.Key]++;
                instanceCount[group.Key] += group.Count();
            }
            foreach (var annotation in image.Annotations)
                WriteAnnotation(json, annotationId++, image.Index + 1, image.Size, annotation, captions);
        }
        json.WriteEndArray();

        json.WriteStartArray("categories");
        foreach (var category in ShapesWorld.Categories)
        {
            json.WriteStartObject();
            json.WriteNumber("id", category.Id);
            json.WriteString("name", category.Name);
            json.WriteString("supercategory", "shape");
            json.WriteString("frequency", category.FrequencyCode);
            json.WriteStartArray("synonyms");
            json.WriteStringValue(category.Name);
            json.WriteEndArray();
            if (options.Split.IsTraining())
            {
                json.WriteNumber("image_count", imageCount[category.Id]);
                json.WriteNumber("instance_count", instanceCount[category.Id]);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteInfo(Utf8JsonWriter json, ShapesOptions options)
    {
        json.WriteStartObject("info");
        json.WriteString("description", $"Shapes world, split {options.Split.ToName()}");
        json.WriteString("split", options.Split.ToName());
        json.WriteNumber("seed", options.Seed);
        json.WriteNumber("image_size", options.ImageSize);
        json.WriteNumber("images", options.ImageCount);
        json.WriteEndObject();
    }

    private static void WriteAnnotation(Utf8JsonWriter json, long id, long imageId, int imageSize, AnnotationRecord annotation, bool captions)
    {
        json.WriteStartObject();
        json.WriteNumber("id", id);
        json.WriteNumber("image_id", imageId);
        json.WriteNumber("category_id", annotation.Category.Id);
        json.WriteStartArray("bbox");
        foreach (double v in annotation.Box)
            json.WriteNumberValue((long)v);
        json.WriteEndArray();
        json.WriteNumber("area", annotation.Area);
        json.WriteNumber("iscrowd", 0);
        json.WriteStartObject("segmentation");
        json.WriteStartArray("size");
        json.WriteNumberValue(imageSize);
        json.WriteNumberValue(imageSize);
        json.WriteEndArray();
        json.WriteString("counts", annotation.MaskCounts);
        json.WriteEndObject();
        if (captions)
        {
            json.WriteString("caption", annotation.Caption);
            json.WriteString("color", annotation.Color.Name);
            json.WriteString("style", annotation.Style.ToString().ToLowerInvariant());
        }
        json.WriteEndObject();
    }

    private static void WriteIds(Utf8JsonWriter json, string name, IReadOnlyList<long> ids)
    {
        json.WriteStartArray(name);
        foreach (long id in ids)
            json.WriteNumberValue(id);
        json.WriteEndArray();
    }
}
