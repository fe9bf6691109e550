using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>What an output column of the detection transform holds.</summary>
internal enum DetectionOutputKind
{
    /// <summary>Variable-length key vector: the class of each detection, 1-based, key values = the vocabulary.</summary>
    PredictedLabel,

    /// <summary>Variable-length float vector: the ranking score of each detection.</summary>
    Score,

    /// <summary>Variable-length float vector, 4 per detection: x0 y0 x1 y1 in pixels.</summary>
    BoundingBoxes,

    /// <summary>Variable-length text vector: one COCO compressed RLE per detection, at image size.</summary>
    Masks,

    /// <summary>Variable-length float vector: the detector's probability of each detection's class.</summary>
    DetectionScore,

    /// <summary>Variable-length float vector: the VLM's probability of each detection's class.</summary>
    VlmScore,
}

/// <summary>
/// The schema of the detection transform for one input schema: the input's columns at their own
/// indices, followed by the output columns. An output named like an input column hides it, as in
/// every ML.NET schema (the later column wins by name). Built once per input schema and shared by
/// <see cref="DetectionDataView"/> and <see cref="DetectionRowMapper"/>.
/// </summary>
internal sealed class DetectionColumns
{
    /// <summary>Name of the optional detector-score column.</summary>
    public const string DetectionScoreColumnName = "DetectionScore";

    /// <summary>Name of the optional VLM-score column.</summary>
    public const string VlmScoreColumnName = "VlmScore";

    private readonly DetectionOutputKind[] _kinds;

    /// <summary>Checks <paramref name="inputSchema"/> and builds the output schema.</summary>
    /// <param name="inputSchema">Must hold <see cref="OutputColumns.ImageColumnName"/> of type <see cref="ImageDataViewType"/>.</param>
    /// <param name="columns">The column names and the optional score columns' flags.</param>
    /// <param name="vocabulary">Class names: the key values of the predicted labels, in key order.</param>
    public DetectionColumns(DataViewSchema inputSchema, OutputColumns columns, IReadOnlyList<string> vocabulary)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.Count == 0) throw new ArgumentException("The vocabulary needs at least one class name.", nameof(vocabulary));
        InputSchema = inputSchema;
        ImageColumn = FindImageColumn(inputSchema, columns.ImageColumnName);

        var outputs = new List<(DetectionOutputKind Kind, string Name)>
        {
            (DetectionOutputKind.PredictedLabel, columns.PredictedLabelColumnName),
            (DetectionOutputKind.Score, columns.ScoreColumnName),
            (DetectionOutputKind.BoundingBoxes, columns.PredictedBoundingBoxColumnName),
            (DetectionOutputKind.Masks, columns.PredictedMaskColumnName),
        };
        if (columns.AddDetectionScoreColumn) outputs.Add((DetectionOutputKind.DetectionScore, DetectionScoreColumnName));
        if (columns.AddVlmScoreColumn) outputs.Add((DetectionOutputKind.VlmScore, VlmScoreColumnName));
        var duplicate = outputs.GroupBy(o => o.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"Output column name '{duplicate.Key}' is used by {string.Join(" and ", duplicate.Select(o => o.Kind))}; give each output its own name.", nameof(columns));
        foreach (var (kind, name) in outputs)
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"The output column name of {kind} is empty.", nameof(columns));

        _kinds = outputs.Select(o => o.Kind).ToArray();
        OutputSchema = BuildSchema(inputSchema, outputs, vocabulary);
    }

    public DataViewSchema InputSchema { get; }

    /// <summary>The input's columns (same indices) followed by <see cref="OutputCount"/> output columns.</summary>
    public DataViewSchema OutputSchema { get; }

    /// <summary>The image column of the input schema.</summary>
    public DataViewSchema.Column ImageColumn { get; }

    /// <summary>Number of input columns; output column k has index <c>InputCount + k</c>.</summary>
    public int InputCount => InputSchema.Count;

    public int OutputCount => _kinds.Length;

    /// <summary>True when <paramref name="outputSchemaIndex"/> is one of the computed columns.</summary>
    public bool IsOutput(int outputSchemaIndex) => outputSchemaIndex >= InputCount;

    /// <summary>What the output column at <paramref name="outputSchemaIndex"/> holds.</summary>
    public DetectionOutputKind KindOf(int outputSchemaIndex) => _kinds[outputSchemaIndex - InputCount];

    /// <summary>
    /// Finds the image column, with ML.NET's schema-mismatch wording; throws
    /// <see cref="ArgumentOutOfRangeException"/> when it is missing or not an image.
    /// </summary>
    public static DataViewSchema.Column FindImageColumn(DataViewSchema inputSchema, string imageColumnName)
    {
        if (inputSchema.GetColumnOrNull(imageColumnName) is not { } column)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Could not find image column '{imageColumnName}'");
        if (column.Type is not ImageDataViewType)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Schema mismatch for image column '{imageColumnName}': expected Image, got {column.Type}");
        return column;
    }

    /// <summary>Checks that <paramref name="column"/> belongs to the output schema and returns its index.</summary>
    public int CheckOutputSchemaColumn(DataViewSchema.Column column)
    {
        if (column.Index < 0 || column.Index >= OutputSchema.Count || OutputSchema[column.Index].Name != column.Name)
            throw new ArgumentException($"Column '{column.Name}' (index {column.Index}) is not a column of the detection transform's output schema.", nameof(column));
        return column.Index;
    }

    /// <summary>
    /// The check every row of the transform makes before handing out a getter: the column must be
    /// active and <typeparamref name="TValue"/> must be its raw type.
    /// </summary>
    public static void CheckGetter<TValue>(DataViewSchema.Column column, bool isActive)
    {
        if (!isActive)
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor or row was made; ask for it in the columns needed.");
        if (column.Type.RawType != typeof(TValue))
            throw new InvalidOperationException($"Column '{column.Name}' is {column.Type} and is read as {column.Type.RawType.Name}, not as {typeof(TValue).Name}.");
    }

    private static DataViewSchema BuildSchema(DataViewSchema inputSchema, IReadOnlyList<(DetectionOutputKind Kind, string Name)> outputs, IReadOnlyList<string> vocabulary)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var (kind, name) in outputs)
        {
            if (kind == DetectionOutputKind.PredictedLabel)
                builder.AddColumn(name, new VectorDataViewType(new KeyDataViewType(typeof(uint), vocabulary.Count)), KeyValues(vocabulary));
            else
                builder.AddColumn(name, new VectorDataViewType(kind == DetectionOutputKind.Masks ? TextDataViewType.Instance : NumberDataViewType.Single));
        }
        return builder.ToSchema();
    }

    private static DataViewSchema.Annotations KeyValues(IReadOnlyList<string> vocabulary)
    {
        var names = vocabulary.Select(n => n.AsMemory()).ToArray();
        var annotations = new DataViewSchema.Annotations.Builder();
        // What ML.NET's (internal) AddKeyValues writes: "KeyValues", a text vector as long as the key count.
        annotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, names.Length),
            (ref VBuffer<ReadOnlyMemory<char>> value) => new VBuffer<ReadOnlyMemory<char>>(names.Length, names).CopyTo(ref value));
        return annotations.ToAnnotations();
    }
}
