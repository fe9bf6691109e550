using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// Reads and writes COCO / LVIS instance-annotation files and COCO results files.
/// Reading streams the file (no whole-file buffer) and fails with a <see cref="CocoFormatException"/>
/// naming the file and the JSON path of the bad field. Writing is deterministic (the same objects
/// give the same bytes): compact, fixed field order, numbers in their shortest round-trip invariant
/// form, null optional fields omitted.
/// </summary>
public static class CocoJson
{
    private static readonly JsonSerializerOptions DatasetOptions = CreateOptions(results: false);
    private static readonly JsonSerializerOptions ResultsOptions = CreateOptions(results: true);

    /// <summary>Reads a COCO or LVIS annotation file.</summary>
    /// <exception cref="CocoFormatException">The file is not valid JSON or a field is missing or malformed;
    /// also when ids repeat or an annotation names an unknown image or category.</exception>
    public static CocoDataset ReadDataset(string path)
    {
        using FileStream stream = OpenRead(path);
        return ReadDataset(stream, path);
    }

    /// <summary>Reads a COCO or LVIS annotation file from a stream.</summary>
    /// <param name="stream">UTF-8 JSON.</param>
    /// <param name="sourceName">Name used in error messages (e.g. the file name).</param>
    public static CocoDataset ReadDataset(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        CocoDataset dataset = Deserialize<CocoDataset>(stream, sourceName, DatasetOptions)
            ?? throw new CocoFormatException(sourceName, "$", "expected an object, got null");
        dataset.Images ??= [];
        dataset.Annotations ??= [];
        dataset.Categories ??= [];
        CocoDatasetValidator.Validate(dataset, sourceName);
        return CocoSources.Remember(dataset, sourceName);
    }

    /// <summary>Writes a dataset as compact, deterministic JSON.</summary>
    public static void WriteDataset(CocoDataset dataset, string path)
    {
        using FileStream stream = File.Create(path);
        WriteDataset(dataset, stream);
    }

    /// <summary>Writes a dataset as compact, deterministic JSON.</summary>
    public static void WriteDataset(CocoDataset dataset, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(stream);
        JsonSerializer.Serialize(stream, dataset, DatasetOptions);
    }

    /// <summary>
    /// Reads a COCO results file: an array of <c>{image_id, category_id, score, bbox?, segmentation?}</c>.
    /// Absent <c>id</c> and <c>area</c> read as 0; no fields are derived (that is the evaluator's job).
    /// </summary>
    public static List<CocoAnnotation> ReadResults(string path)
    {
        using FileStream stream = OpenRead(path);
        return ReadResults(stream, path);
    }

    /// <summary>Reads a COCO results file from a stream.</summary>
    public static List<CocoAnnotation> ReadResults(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        List<CocoAnnotation> results = Deserialize<List<CocoAnnotation>>(stream, sourceName, ResultsOptions)
            ?? throw new CocoFormatException(sourceName, "$", "expected an array of results, got null");
        return CocoSources.Remember(results, sourceName);
    }

    /// <summary>Writes detections as a COCO results file (same format as a dataset's annotations, with <c>score</c>).</summary>
    public static void WriteResults(IEnumerable<CocoAnnotation> results, string path)
    {
        using FileStream stream = File.Create(path);
        WriteResults(results, stream);
    }

    /// <summary>Writes detections as a COCO results file.</summary>
    public static void WriteResults(IEnumerable<CocoAnnotation> results, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(stream);
        JsonSerializer.Serialize(stream, results, ResultsOptions);
    }

    private static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static T? Deserialize<T>(Stream stream, string sourceName, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(stream, options);
        }
        catch (JsonException e)
        {
            string where = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            if (e is CocoFieldException field)
                where = where.Length == 0 ? field.Field : $"{where}.{field.Field}";
            if (where.Length == 0)
                where = "$";
            string problem = e is CocoFieldException ? e.Message : TrimSerializerMessage(e);
            throw new CocoFormatException(sourceName, where, problem, e);
        }
    }

    // The serializer's own messages end with " Path: ... | LineNumber: ..."; the path is already in front.
    private static string TrimSerializerMessage(JsonException e)
    {
        string message = e.Message;
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut > 0)
            message = message[..cut];
        return e.LineNumber is long line ? $"{message} (line {line + 1})" : message;
    }

    private static JsonSerializerOptions CreateOptions(bool results)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            ReadCommentHandling = JsonCommentHandling.Disallow,
            WriteIndented = false,
        };
        options.Converters.Add(new CocoImageConverter());
        options.Converters.Add(new CocoCategoryConverter());
        options.Converters.Add(new CocoAnnotationConverter(results));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
