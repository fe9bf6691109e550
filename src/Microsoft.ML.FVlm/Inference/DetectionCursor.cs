using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// The cursor of a <see cref="DetectionDataView"/> when a detection column is needed. It reads up
/// to <c>batchSize</c> input rows ahead, buffering the active input columns (<see cref="ColumnBuffer"/>)
/// and row ids, runs the detector once on the batch's images, and then serves the buffered rows.
/// Only the current batch is held. Images read only for detection are disposed once detected, when
/// the input makes a new image at every read (ML.NET's image loader): the cursor then owns them.
/// Images the input holds (an IDataView over the user's own MLImage objects) are never disposed.
/// </summary>
internal sealed class DetectionCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly DetectionColumns _columns;
    private readonly bool[] _active;
    private readonly Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> _detect;
    private readonly bool _disposeImages;
    private bool? _ownsImages; // decided on the first image read: does the input make a new image per read?
    private readonly ColumnBuffer?[] _buffers; // by input column index; null when inactive
    private readonly ScalarColumnBuffer<MLImage> _images;
    private readonly ValueGetter<DataViewRowId> _inputIdGetter;
    private readonly DataViewRowId[] _ids;
    private readonly DetectionValues[] _detections;
    private int _count;     // rows in the current batch
    private int _slot = -1; // current row within the batch
    private long _position = -1;
    private bool _done;

    public DetectionCursor(DataViewRowCursor input, DetectionColumns columns, bool[] active,
        Func<IReadOnlyList<MLImage>, IReadOnlyList<ImageDetections>> detect, int batchSize, bool disposeImages)
    {
        (_input, _columns, _active, _detect, _disposeImages) = (input, columns, active, detect, disposeImages);
        _buffers = new ColumnBuffer?[columns.InputCount];
        for (int i = 0; i < columns.InputCount; i++)
            if (active[i] || i == columns.ImageColumn.Index)
                _buffers[i] = ColumnBuffer.Create(input, input.Schema[i], batchSize);
        _images = (ScalarColumnBuffer<MLImage>)_buffers[columns.ImageColumn.Index]!;
        _inputIdGetter = input.GetIdGetter();
        _ids = new DataViewRowId[batchSize];
        _detections = new DetectionValues[batchSize];
    }

    public override DataViewSchema Schema => _columns.OutputSchema;

    public override long Position => _position;

    public override long Batch => _input.Batch;

    public override bool MoveNext()
    {
        if (_done) return false;
        if (_slot + 1 >= _count && !ReadBatch())
        {
            _done = true;
            _slot = -1;
            _count = 0;
            foreach (var buffer in _buffers) buffer?.Clear();
            Array.Clear(_detections);
            return false;
        }
        _slot++;
        _position++;
        return true;
    }

    public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) => value = _ids[CurrentSlot()];

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index >= 0 && column.Index < _active.Length && _active[column.Index];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        DetectionColumns.CheckGetter<TValue>(column, IsColumnActive(column));
        var getter = _columns.IsOutput(column.Index)
            ? DetectionValues.MakeGetter(_columns.KindOf(column.Index), () => _detections[CurrentSlot()])
            : _buffers[column.Index]!.MakeGetter(CurrentSlot);
        return (ValueGetter<TValue>)getter;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _input.Dispose();
        base.Dispose(disposing);
    }

    private int CurrentSlot() =>
        _slot >= 0 ? _slot : throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");

    /// <summary>Reads the next batch and detects its images; false at the end of the input.</summary>
    private bool ReadBatch()
    {
        _count = 0;
        _slot = -1;
        while (_count < _ids.Length && _input.MoveNext())
        {
            foreach (var buffer in _buffers) buffer?.Read(_count);
            _inputIdGetter(ref _ids[_count]);
            if (_disposeImages && _ownsImages is null && _images.Values[_count] is { } image) _ownsImages = MakesNewImages(image);
            _count++;
        }
        if (_count == 0) return false;
        Detect();
        return true;
    }

    private void Detect()
    {
        // Rows without an image (ML.NET's loader yields null for an empty path) get no detections.
        var present = new List<int>(_count);
        for (int i = 0; i < _count; i++)
            if (_images.Values[i] is not null) present.Add(i);
        for (int i = 0; i < _count; i++)
            _detections[i] = new DetectionValues(ImageDetections.Empty(withMasks: false));
        if (present.Count > 0)
        {
            var results = _detect(present.Select(i => _images.Values[i]).ToArray());
            if (results.Count != present.Count)
                throw new InvalidOperationException($"The detector returned {results.Count} results for {present.Count} images.");
            for (int k = 0; k < present.Count; k++)
                _detections[present[k]] = new DetectionValues(results[k]);
        }
        if (_disposeImages && _ownsImages == true)
        {
            for (int i = 0; i < _count; i++)
                _images.Values[i]?.Dispose();
        }
        if (_disposeImages) _images.Clear();
    }

    /// <summary>
    /// Reads the current row's image a second time: a loader that decodes a new image per read
    /// gives another object (the cursor owns both and disposes the extra one now); an input that
    /// holds its images gives the same object, which must not be disposed.
    /// </summary>
    private bool MakesNewImages(MLImage first)
    {
        var second = _images.ReadAgain();
        if (ReferenceEquals(second, first)) return false;
        second?.Dispose();
        return true;
    }
}
