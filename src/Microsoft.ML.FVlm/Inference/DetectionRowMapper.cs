using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// The detection transform one row at a time, for <c>PredictionEngine</c>: the row it makes passes
/// the input's columns through and detects the input's image when a detection column is first
/// read at a position, once per position.
/// </summary>
internal sealed class DetectionRowMapper : IRowToRowMapper
{
    private readonly DetectionColumns _columns;
    private readonly Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> _detect;

    /// <param name="columns">Input and output schemas.</param>
    /// <param name="detect">Detects a batch of images; called here with one image at a time.</param>
    public DetectionRowMapper(DetectionColumns columns, Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> detect)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(detect);
        (_columns, _detect) = (columns, detect);
    }

    public DataViewSchema InputSchema => _columns.InputSchema;

    public DataViewSchema OutputSchema => _columns.OutputSchema;

    /// <summary>The input columns the given output columns read: themselves when passed through, the image for any detection column.</summary>
    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        ArgumentNullException.ThrowIfNull(dependingColumns);
        var needed = new bool[_columns.InputCount];
        foreach (var column in dependingColumns)
        {
            int index = _columns.CheckOutputSchemaColumn(column);
            needed[_columns.IsOutput(index) ? _columns.ImageColumn.Index : index] = true;
        }
        return InputSchema.Where(c => needed[c.Index]).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        if (input.Schema.Count != _columns.InputCount)
            throw new ArgumentException($"The input row has {input.Schema.Count} columns; the mapper was built for {_columns.InputCount}.", nameof(input));
        var active = new bool[_columns.OutputSchema.Count];
        foreach (var column in activeColumns)
            active[_columns.CheckOutputSchemaColumn(column)] = true;
        return new DetectionRow(input, _columns, active, _detect);
    }

    /// <summary>One row of the mapper's output over the current row of its input.</summary>
    private sealed class DetectionRow : DataViewRow
    {
        private readonly DataViewRow _input;
        private readonly DetectionColumns _columns;
        private readonly bool[] _active;
        private readonly Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> _detect;
        private readonly ValueGetter<MLImage>? _imageGetter;
        private DetectionValues? _values;
        private long _valuesPosition = -1;

        public DetectionRow(DataViewRow input, DetectionColumns columns, bool[] active, Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> detect)
        {
            (_input, _columns, _active, _detect) = (input, columns, active, detect);
            bool detecting = Enumerable.Range(columns.InputCount, columns.OutputCount).Any(i => active[i]);
            if (detecting) _imageGetter = input.GetGetter<MLImage>(input.Schema[columns.ImageColumn.Index]);
        }

        public override DataViewSchema Schema => _columns.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= 0 && column.Index < _active.Length && _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            DetectionColumns.CheckGetter<TValue>(column, IsColumnActive(column));
            if (!_columns.IsOutput(column.Index))
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            return (ValueGetter<TValue>)DetectionValues.MakeGetter(_columns.KindOf(column.Index), Current);
        }

        private DetectionValues Current()
        {
            long position = _input.Position;
            if (_values is null || _valuesPosition != position)
            {
                // The image belongs to the caller (e.g. the PredictionEngine's example): not disposed here.
                MLImage image = null!;
                _imageGetter!(ref image);
                var detections = image is null ? ImageDetections.Empty(withMasks: false) : Single(_detect([image]));
                (_values, _valuesPosition) = (new DetectionValues(detections), position);
            }
            return _values;
        }

        private static ImageDetections Single(IReadOnlyList<ImageDetections> results) =>
            results.Count == 1 ? results[0] : throw new InvalidOperationException($"The detector returned {results.Count} results for 1 image.");
    }
}
