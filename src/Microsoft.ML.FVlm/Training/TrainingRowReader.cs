using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Training;

/// <summary>Names of the training columns (ML.NET's object-detection convention by default).</summary>
internal sealed record TrainingColumns(string Image = "Image", string Label = "Label", string BoundingBoxes = "BoundingBoxes", string? Masks = "Masks");

/// <summary>One training row: its stable id, annotations, and its image when it had to be read.</summary>
internal sealed class TrainingRow
{
    public required ulong RowId { get; init; }
    public required int Epoch { get; init; }
    public required float[] Boxes { get; init; }
    public required long[] Classes { get; init; }
    public required IReadOnlyList<string>? Masks { get; init; }
    public MLImage? Image { get; init; }
}

/// <summary>
/// Streams training rows from an IDataView: one cursor per epoch (shuffled when the view can
/// shuffle), images decoded only for rows whose features are not cached.
/// </summary>
internal sealed class TrainingRowReader
{
    private readonly IDataView _data;
    private readonly TrainingColumns _columns;

    public TrainingRowReader(IDataView data, TrainingColumns columns) => (_data, _columns) = (data, columns);

    public IEnumerable<TrainingRow> Read(Random random, int epoch, Func<ulong, bool> needsImage)
    {
        var schema = _data.Schema;
        var imageColumn = schema[_columns.Image];
        var label = schema[_columns.Label];
        var boxes = schema[_columns.BoundingBoxes];
        var masks = _columns.Masks is { } name && schema.GetColumnOrNull(name) is { } column ? column : (DataViewSchema.Column?)null;
        var active = masks is { } m ? new[] { imageColumn, label, boxes, m } : new[] { imageColumn, label, boxes };
        using var cursor = _data.GetRowCursor(active, _data.CanShuffle ? random : null);
        var idGetter = cursor.GetIdGetter();
        var imageGetter = cursor.GetGetter<MLImage>(imageColumn);
        var labelGetter = cursor.GetGetter<VBuffer<uint>>(label);
        var boxGetter = cursor.GetGetter<VBuffer<float>>(boxes);
        var maskGetter = masks is { } mc ? cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(mc) : null;
        DataViewRowId id = default;
        VBuffer<uint> labels = default;
        VBuffer<float> boxValues = default;
        VBuffer<ReadOnlyMemory<char>> maskValues = default;
        while (cursor.MoveNext())
        {
            idGetter(ref id);
            labelGetter(ref labels);
            boxGetter(ref boxValues);
            var classes = labels.DenseValues().Select(k => (long)k - 1).ToArray();
            var boxArray = boxValues.DenseValues().ToArray();
            if (boxArray.Length != classes.Length * 4)
                throw new InvalidOperationException($"Row {id.Low}: column '{_columns.BoundingBoxes}' has {boxArray.Length} values for {classes.Length} labels; expected 4 per label (x0 y0 x1 y1).");
            if (classes.Any(c => c < 0))
                throw new InvalidOperationException($"Row {id.Low}: column '{_columns.Label}' has a missing key; every instance needs a category.");
            string[]? maskStrings = null;
            if (maskGetter is not null)
            {
                maskGetter(ref maskValues);
                maskStrings = maskValues.DenseValues().Select(v => v.ToString()).ToArray();
                if (maskStrings.Length != classes.Length)
                    throw new InvalidOperationException($"Row {id.Low}: column '{_columns.Masks}' has {maskStrings.Length} masks for {classes.Length} labels.");
            }
            MLImage? loaded = null;
            if (needsImage(id.Low))
            {
                // A fresh variable per row: the caller keeps the image after the cursor moves on.
                MLImage image = null!;
                imageGetter(ref image);
                loaded = image;
            }
            yield return new TrainingRow { RowId = id.Low, Epoch = epoch, Boxes = boxArray, Classes = classes, Masks = maskStrings, Image = loaded };
        }
    }
}
