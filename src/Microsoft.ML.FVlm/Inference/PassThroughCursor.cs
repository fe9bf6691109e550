using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// The cursor of a <see cref="DetectionDataView"/> when no detection column is needed: the input's
/// rows under the output schema, without reading images or running the detector.
/// </summary>
internal sealed class PassThroughCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly bool[] _active;

    public PassThroughCursor(DataViewRowCursor input, DataViewSchema outputSchema, bool[] active)
    {
        (_input, Schema, _active) = (input, outputSchema, active);
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override bool MoveNext() => _input.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        DetectionColumns.CheckGetter<TValue>(column, column.Index < _active.Length && _active[column.Index]);
        // Input columns keep their indices in the output schema.
        return _input.GetGetter<TValue>(_input.Schema[column.Index]);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _input.Dispose();
        base.Dispose(disposing);
    }
}
