using System.Text.Json;
using static Microsoft.ML.FVlm.Data.JsonFields;

namespace Microsoft.ML.FVlm.Data;

/// <summary>Reads and writes the three JSON forms of a <see cref="CocoSegmentation"/>.</summary>
internal static class CocoSegmentationConverter
{
    private const string Expected = "expected polygons [[x1, y1, ...], ...] or RLE {\"size\": [h, w], \"counts\": ...}";

    public static CocoSegmentation? ReadValue(ref Utf8JsonReader reader, string field)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartArray:
                var polygons = new List<double[]>();
                Advance(ref reader);
                while (reader.TokenType != JsonTokenType.EndArray)
                {
                    string polygonField = $"{field}[{polygons.Count}]";
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw new CocoFieldException(polygonField, $"expected a polygon [x1, y1, x2, y2, ...], got {Describe(ref reader)}");
                    polygons.Add(ReadDoubles(ref reader, polygonField));
                    Advance(ref reader);
                }
                return CocoSegmentation.FromPolygons(polygons);
            case JsonTokenType.StartObject:
                return ReadRle(ref reader, field);
            default:
                throw new CocoFieldException(field, $"{Expected}, got {Describe(ref reader)}");
        }
    }

    private static CocoSegmentation ReadRle(ref Utf8JsonReader reader, string field)
    {
        string? compressed = null;
        List<long>? counts = null;
        double[]? size = null;
        Advance(ref reader);
        while (reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            Advance(ref reader);
            if (name == "counts")
            {
                if (reader.TokenType == JsonTokenType.String)
                    compressed = reader.GetString();
                else if (reader.TokenType == JsonTokenType.StartArray)
                    counts = ReadInt64s(ref reader, $"{field}.counts");
                else
                    throw new CocoFieldException($"{field}.counts", $"expected a string or an array of integers, got {Describe(ref reader)}");
            }
            else if (name == "size")
                size = ReadDoubles(ref reader, $"{field}.size");
            else
                reader.Skip();
            Advance(ref reader);
        }
        if (size is null)
            throw new CocoFieldException($"{field}.size", "missing required field of an RLE segmentation");
        if (size.Length != 2 || size[0] < 0 || size[1] < 0 || size[0] != Math.Floor(size[0]) || size[1] != Math.Floor(size[1])
            || size[0] > int.MaxValue || size[1] > int.MaxValue)
            throw new CocoFieldException($"{field}.size", $"expected [height, width] as 2 non-negative integers, got {size.Length} numbers");
        int h = (int)size[0], w = (int)size[1];
        if (compressed is not null)
        {
            try
            {
                return CocoSegmentation.FromRle(CocoMask.FromCompressedString(compressed, h, w), compressed: true);
            }
            catch (FormatException e)
            {
                throw new CocoFieldException($"{field}.counts", e.Message);
            }
        }
        if (counts is null)
            throw new CocoFieldException($"{field}.counts", "missing required field of an RLE segmentation");
        var runs = new uint[counts.Count];
        for (int i = 0; i < runs.Length; i++)
        {
            if (counts[i] < 0 || counts[i] > uint.MaxValue)
                throw new CocoFieldException($"{field}.counts[{i}]", $"expected a non-negative run length, got {counts[i]}");
            runs[i] = (uint)counts[i];
        }
        try
        {
            return CocoSegmentation.FromRle(new RleMask(h, w, runs), compressed: false);
        }
        catch (ArgumentException e)
        {
            throw new CocoFieldException($"{field}.counts", e.Message);
        }
    }

    public static void WriteValue(Utf8JsonWriter writer, CocoSegmentation segmentation)
    {
        if (segmentation.Polygons is not null)
        {
            writer.WriteStartArray();
            foreach (double[] polygon in segmentation.Polygons)
            {
                writer.WriteStartArray();
                foreach (double v in polygon)
                {
                    if (!double.IsFinite(v))
                        throw new ArgumentException($"A polygon has the coordinate {v}; JSON numbers must be finite.");
                    writer.WriteNumberValue(v);
                }
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
            return;
        }
        RleMask rle = segmentation.Rle!;
        writer.WriteStartObject();
        writer.WriteStartArray("size");
        writer.WriteNumberValue(rle.Height);
        writer.WriteNumberValue(rle.Width);
        writer.WriteEndArray();
        if (segmentation.IsCompressed)
            writer.WriteString("counts", CocoMask.ToCompressedString(rle));
        else
        {
            writer.WriteStartArray("counts");
            foreach (uint c in rle.Counts.Span)
                writer.WriteNumberValue(c);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }
}
