using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// The lazy output of the detection transform: the input's columns followed by the detection
/// columns of <see cref="DetectionColumns"/>. Nothing is computed until a cursor moves; a cursor
/// that needs a detection column reads <c>batchSize</c> input rows ahead, runs the detector once
/// on their images and serves the rows one by one, so memory holds one batch whatever the row
/// count. A cursor that needs no detection column passes the input through without detecting.
/// </summary>
internal sealed class DetectionDataView : IDataView
{
    private readonly IDataView _input;
    private readonly DetectionColumns _columns;
    private readonly Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> _detect;
    private readonly int _batchSize;

    /// <param name="input">The view to score; its schema must be <paramref name="columns"/>' input schema.</param>
    /// <param name="columns">Output schema, built for <paramref name="input"/>'s schema.</param>
    /// <param name="detect">
    /// Detects a batch of images (one result per image, in order), e.g.
    /// <c>images => detector.Detect(images, vocabulary, settings)</c>. Called from the cursor's
    /// thread with at most <paramref name="batchSize"/> images, never with none.
    /// </param>
    /// <param name="batchSize">Images per call of <paramref name="detect"/> (<see cref="FVlmOptions.InferenceBatchSize"/>).</param>
    public DetectionDataView(IDataView input, DetectionColumns columns, Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> detect, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(detect);
        if (batchSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "InferenceBatchSize must be at least 1.");
        if (!ReferenceEquals(input.Schema, columns.InputSchema) && !SameColumns(input.Schema, columns.InputSchema))
            throw new ArgumentException("The detection columns were built for another input schema.", nameof(columns));
        (_input, _columns, _detect, _batchSize) = (input, columns, detect, batchSize);
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema => _columns.OutputSchema;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var active = new bool[_columns.OutputSchema.Count];
        foreach (var column in columnsNeeded)
            active[_columns.CheckOutputSchemaColumn(column)] = true;

        bool detecting = false;
        var inputNeeded = new List<DataViewSchema.Column>();
        for (int i = 0; i < active.Length; i++)
        {
            if (!active[i]) continue;
            if (_columns.IsOutput(i)) detecting = true;
            else inputNeeded.Add(_columns.InputSchema[i]);
        }
        if (!detecting)
            return new PassThroughCursor(_input.GetRowCursor(inputNeeded, rand), _columns.OutputSchema, active);

        bool imageRequested = active[_columns.ImageColumn.Index];
        if (!imageRequested) inputNeeded.Add(_columns.ImageColumn);
        return new DetectionCursor(_input.GetRowCursor(inputNeeded, rand), _columns, active, _detect, _batchSize, disposeImages: !imageRequested);
    }

    /// <summary>One cursor: detection batches are already the unit of parallel work.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static bool SameColumns(DataViewSchema a, DataViewSchema b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (a[i].Name != b[i].Name || !a[i].Type.Equals(b[i].Type)) return false;
        return true;
    }
}
