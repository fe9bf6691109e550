using System.Text.Json;

namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// Thrown inside the COCO converters: <see cref="Field"/> is relative to the object being read;
/// the serializer adds the path of that object and <see cref="CocoJson"/> joins both.
/// </summary>
internal sealed class CocoFieldException(string field, string problem) : JsonException(problem)
{
    public string Field { get; } = field;
}

/// <summary>Typed reads of one JSON value that fail with the field name and what was expected.</summary>
internal static class JsonFields
{
    public static void Advance(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
            throw new JsonException("Unexpected end of JSON.");
    }

    public static double ReadDouble(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out double value))
            throw new CocoFieldException(field, $"expected a number, got {Describe(ref reader)}");
        return value;
    }

    public static long ReadInt64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out long value))
                return value;
            // Some writers put integers as 12.0.
            if (reader.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e15)
                return (long)d;
        }
        throw new CocoFieldException(field, $"expected an integer, got {Describe(ref reader)}");
    }

    public static int ReadInt32(ref Utf8JsonReader reader, string field)
    {
        long value = ReadInt64(ref reader, field);
        if (value < int.MinValue || value > int.MaxValue)
            throw new CocoFieldException(field, $"{value} is out of range");
        return (int)value;
    }

    public static string ReadString(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new CocoFieldException(field, $"expected a string, got {Describe(ref reader)}");
        return reader.GetString()!;
    }

    public static string? ReadOptionalString(ref Utf8JsonReader reader, string field) =>
        reader.TokenType == JsonTokenType.Null ? null : ReadString(ref reader, field);

    public static double[] ReadDoubles(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CocoFieldException(field, $"expected an array of numbers, got {Describe(ref reader)}");
        var values = new List<double>();
        Advance(ref reader);
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(ReadDouble(ref reader, $"{field}[{values.Count}]"));
            Advance(ref reader);
        }
        return values.ToArray();
    }

    public static List<long> ReadInt64s(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CocoFieldException(field, $"expected an array of integers, got {Describe(ref reader)}");
        var values = new List<long>();
        Advance(ref reader);
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(ReadInt64(ref reader, $"{field}[{values.Count}]"));
            Advance(ref reader);
        }
        return values;
    }

    public static string[] ReadStrings(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CocoFieldException(field, $"expected an array of strings, got {Describe(ref reader)}");
        var values = new List<string>();
        Advance(ref reader);
        while (reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(ReadString(ref reader, $"{field}[{values.Count}]"));
            Advance(ref reader);
        }
        return values.ToArray();
    }

    public static void ExpectObject(ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected {what} object, got {Describe(ref reader)}");
    }

    public static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => $"the string \"{Truncate(reader.GetString())}\"",
        JsonTokenType.Number => $"the number {System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        var other => other.ToString(),
    };

    private static string? Truncate(string? s) => s is { Length: > 40 } ? s[..40] + "..." : s;

    /// <summary>Writes a number compactly (shortest round-trip form, invariant).</summary>
    public static void WriteNumber(Utf8JsonWriter writer, string name, double value, string owner)
    {
        if (!double.IsFinite(value))
            throw new ArgumentException($"{owner}.{name} is {value}; JSON numbers must be finite.");
        writer.WriteNumber(name, value);
    }
}
