using System.Text.Json;
using System.Text.Json.Serialization;
using static Microsoft.ML.FVlm.Data.JsonFields;

namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// Reads and writes one annotation. In a dataset <c>id</c>, <c>image_id</c>, <c>category_id</c>
/// and <c>bbox</c> are required (a missing <c>area</c> reads as NaN, filled in by <see cref="CocoJson"/>);
/// in a results file <c>image_id</c>, <c>category_id</c>, <c>score</c> and a <c>bbox</c> or
/// <c>segmentation</c> are.
/// </summary>
internal sealed class CocoAnnotationConverter(bool results) : JsonConverter<CocoAnnotation>
{
    public override CocoAnnotation Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        ExpectObject(ref reader, "an annotation");
        var annotation = new CocoAnnotation { Area = double.NaN };
        bool hasId = false, hasImage = false, hasCategory = false, hasBox = false;
        Advance(ref reader);
        while (reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            Advance(ref reader);
            switch (name)
            {
                case "id": annotation.Id = ReadInt64(ref reader, name); hasId = true; break;
                case "image_id": annotation.ImageId = ReadInt64(ref reader, name); hasImage = true; break;
                case "category_id": annotation.CategoryId = ReadInt64(ref reader, name); hasCategory = true; break;
                case "bbox": annotation.Bbox = ReadBox(ref reader); hasBox = true; break;
                case "area": annotation.Area = ReadDouble(ref reader, name); break;
                case "iscrowd": annotation.IsCrowd = ReadCrowd(ref reader); break;
                case "segmentation": annotation.Segmentation = CocoSegmentationConverter.ReadValue(ref reader, name); break;
                case "score": annotation.Score = ReadDouble(ref reader, name); break;
                default: reader.Skip(); break;
            }
            Advance(ref reader);
        }
        if (!hasImage)
            throw new CocoFieldException("image_id", "missing required field");
        if (!hasCategory)
            throw new CocoFieldException("category_id", "missing required field");
        if (results)
        {
            if (annotation.Score is null)
                throw new CocoFieldException("score", "missing required field");
            if (!hasBox && annotation.Segmentation is null)
                throw new CocoFieldException("bbox", "missing: a result needs a bbox or a segmentation");
            if (!hasId)
                annotation.Id = 0;
            if (double.IsNaN(annotation.Area))
                annotation.Area = 0;
        }
        else
        {
            if (!hasId)
                throw new CocoFieldException("id", "missing required field");
            if (!hasBox)
                throw new CocoFieldException("bbox", "missing required field");
        }
        return annotation;
    }

    private static double[] ReadBox(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CocoFieldException("bbox", $"expected 4 numbers [x, y, w, h], got {Describe(ref reader)}");
        double[] box = ReadDoubles(ref reader, "bbox");
        if (box.Length != 4)
            throw new CocoFieldException("bbox", $"expected 4 numbers [x, y, w, h], got {box.Length}");
        return box;
    }

    private static int ReadCrowd(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.True => 1,
        JsonTokenType.False => 0,
        _ => ReadInt32(ref reader, "iscrowd"),
    };

    public override void Write(Utf8JsonWriter writer, CocoAnnotation value, JsonSerializerOptions options)
    {
        string owner = $"annotation {value.Id}";
        writer.WriteStartObject();
        writer.WriteNumber("id", value.Id);
        writer.WriteNumber("image_id", value.ImageId);
        writer.WriteNumber("category_id", value.CategoryId);
        if (value.Segmentation is not null)
        {
            writer.WritePropertyName("segmentation");
            CocoSegmentationConverter.WriteValue(writer, value.Segmentation);
        }
        JsonFields.WriteNumber(writer, "area", value.Area, owner);
        if (value.Bbox is not { Length: 4 })
            throw new ArgumentException($"{owner}.bbox must have 4 numbers [x, y, w, h].");
        writer.WriteStartArray("bbox");
        foreach (double v in value.Bbox)
        {
            if (!double.IsFinite(v))
                throw new ArgumentException($"{owner}.bbox has {v}; JSON numbers must be finite.");
            writer.WriteNumberValue(v);
        }
        writer.WriteEndArray();
        writer.WriteNumber("iscrowd", value.IsCrowd);
        if (value.Score is double score)
            JsonFields.WriteNumber(writer, "score", score, owner);
        writer.WriteEndObject();
    }
}
