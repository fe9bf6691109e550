using System.Text.Json;
using System.Text.Json.Serialization;
using static Microsoft.ML.FVlm.Data.JsonFields;

namespace Microsoft.ML.FVlm.Data;

/// <summary>Reads and writes one <c>"images"</c> entry; unknown fields are skipped.</summary>
internal sealed class CocoImageConverter : JsonConverter<CocoImage>
{
    public override CocoImage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        ExpectObject(ref reader, "an image");
        var image = new CocoImage();
        bool hasId = false, hasWidth = false, hasHeight = false, hasFileName = false;
        Advance(ref reader);
        while (reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            Advance(ref reader);
            switch (name)
            {
                case "id": image.Id = ReadInt64(ref reader, name); hasId = true; break;
                case "file_name": image.FileName = ReadString(ref reader, name); hasFileName = true; break;
                case "width": image.Width = ReadInt32(ref reader, name); hasWidth = true; break;
                case "height": image.Height = ReadInt32(ref reader, name); hasHeight = true; break;
                case "license": image.License = reader.TokenType == JsonTokenType.Null ? null : ReadInt64(ref reader, name); break;
                case "coco_url": image.CocoUrl = ReadOptionalString(ref reader, name); break;
                case "flickr_url": image.FlickrUrl = ReadOptionalString(ref reader, name); break;
                case "date_captured": image.DateCaptured = ReadOptionalString(ref reader, name); break;
                case "neg_category_ids": image.NegCategoryIds = ReadInt64s(ref reader, name); break;
                case "not_exhaustive_category_ids": image.NotExhaustiveCategoryIds = ReadInt64s(ref reader, name); break;
                default: SkipValue(ref reader); break;
            }
            Advance(ref reader);
        }
        if (!hasId)
            throw new CocoFieldException("id", "missing required field");
        if (!hasWidth || image.Width <= 0)
            throw new CocoFieldException("width", hasWidth ? $"expected a positive width, got {image.Width}" : "missing required field");
        if (!hasHeight || image.Height <= 0)
            throw new CocoFieldException("height", hasHeight ? $"expected a positive height, got {image.Height}" : "missing required field");
        // LVIS: the file name is the last segment of the COCO url. With neither, it stays empty: pycocotools and
        // lvis-api never read it, and only what reads the images insists on it (CocoDatasetValidator.RequireFileNames).
        if (!hasFileName && !string.IsNullOrEmpty(image.CocoUrl))
            image.FileName = image.CocoUrl[(image.CocoUrl.LastIndexOf('/') + 1)..];
        return image;
    }

    public override void Write(Utf8JsonWriter writer, CocoImage value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteNumber("id", value.Id);
        if (!string.IsNullOrEmpty(value.FileName))
            writer.WriteString("file_name", value.FileName);
        writer.WriteNumber("width", value.Width);
        writer.WriteNumber("height", value.Height);
        if (value.License is long license)
            writer.WriteNumber("license", license);
        if (value.CocoUrl is not null)
            writer.WriteString("coco_url", value.CocoUrl);
        if (value.FlickrUrl is not null)
            writer.WriteString("flickr_url", value.FlickrUrl);
        if (value.DateCaptured is not null)
            writer.WriteString("date_captured", value.DateCaptured);
        WriteIds(writer, "neg_category_ids", value.NegCategoryIds);
        WriteIds(writer, "not_exhaustive_category_ids", value.NotExhaustiveCategoryIds);
        writer.WriteEndObject();
    }

    private static void WriteIds(Utf8JsonWriter writer, string name, List<long>? ids)
    {
        if (ids is null)
            return;
        writer.WriteStartArray(name);
        foreach (long id in ids)
            writer.WriteNumberValue(id);
        writer.WriteEndArray();
    }
}

/// <summary>Reads and writes one <c>"categories"</c> entry; unknown fields are skipped.</summary>
internal sealed class CocoCategoryConverter : JsonConverter<CocoCategory>
{
    public override CocoCategory Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        ExpectObject(ref reader, "a category");
        var category = new CocoCategory();
        bool hasId = false, hasName = false;
        Advance(ref reader);
        while (reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            Advance(ref reader);
            switch (name)
            {
                case "id": category.Id = ReadInt64(ref reader, name); hasId = true; break;
                case "name": category.Name = ReadString(ref reader, name); hasName = true; break;
                case "supercategory": category.Supercategory = ReadOptionalString(ref reader, name); break;
                case "frequency": category.Frequency = ReadOptionalString(ref reader, name); break;
                case "image_count": category.ImageCount = ReadInt32(ref reader, name); break;
                case "instance_count": category.InstanceCount = ReadInt32(ref reader, name); break;
                case "synonyms": category.Synonyms = ReadStrings(ref reader, name); break;
                case "synset": category.Synset = ReadOptionalString(ref reader, name); break;
                case "def": category.Definition = ReadOptionalString(ref reader, name); break;
                default: SkipValue(ref reader); break;
            }
            Advance(ref reader);
        }
        if (!hasId)
            throw new CocoFieldException("id", "missing required field");
        if (!hasName)
            throw new CocoFieldException("name", "missing required field");
        return category;
    }

    public override void Write(Utf8JsonWriter writer, CocoCategory value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteNumber("id", value.Id);
        writer.WriteString("name", value.Name);
        if (value.Supercategory is not null)
            writer.WriteString("supercategory", value.Supercategory);
        if (value.Frequency is not null)
            writer.WriteString("frequency", value.Frequency);
        if (value.ImageCount is int imageCount)
            writer.WriteNumber("image_count", imageCount);
        if (value.InstanceCount is int instanceCount)
            writer.WriteNumber("instance_count", instanceCount);
        if (value.Synonyms is not null)
        {
            writer.WriteStartArray("synonyms");
            foreach (string synonym in value.Synonyms)
                writer.WriteStringValue(synonym);
            writer.WriteEndArray();
        }
        if (value.Synset is not null)
            writer.WriteString("synset", value.Synset);
        if (value.Definition is not null)
            writer.WriteString("def", value.Definition);
        writer.WriteEndObject();
    }
}
