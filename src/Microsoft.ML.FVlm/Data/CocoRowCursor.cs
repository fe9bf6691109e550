using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Data;

/// <summary>Walks the rows of a <see cref="CocoDataView"/> in the given order.</summary>
internal sealed class CocoRowCursor : DataViewRowCursor
{
    // Column indices, in the order CocoDataView.BuildSchema adds them.
    private const int ImageIdColumn = 0, ImagePathColumn = 1, WidthColumn = 2, HeightColumn = 3,
        LabelColumn = 4, BoxesColumn = 5, MasksColumn = 6, CrowdColumn = 7;

    private readonly CocoDataView _view;
    private readonly bool[] _active;
    private readonly int[] _order;
    private long _position = -1;
    private int _row = -1;

    public CocoRowCursor(CocoDataView view, bool[] active, int[] order)
    {
        _view = view;
        _active = active;
        _order = order;
    }

    public override DataViewSchema Schema => _view.Schema;

    public override long Position => _position;

    public override long Batch => 0;

    public override bool MoveNext()
    {
        if (_position + 1 >= _order.Length)
        {
            _row = -1;
            _position = _order.Length;
            return false;
        }
        _position++;
        _row = _order[_position];
        return true;
    }

    public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

    public override ValueGetter<DataViewRowId> GetIdGetter() =>
        (ref DataViewRowId value) => value = new DataViewRowId((ulong)CurrentRow(), 0);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < 0 || column.Index >= _active.Length || !_active[column.Index])
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
        Delegate getter = column.Index switch
        {
            ImageIdColumn => (ValueGetter<long>)((ref long v) => v = _view.Images[CurrentRow()].Id),
            ImagePathColumn => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = _view.ImagePaths[CurrentRow()].AsMemory()),
            WidthColumn => (ValueGetter<int>)((ref int v) => v = _view.Images[CurrentRow()].Width),
            HeightColumn => (ValueGetter<int>)((ref int v) => v = _view.Images[CurrentRow()].Height),
            LabelColumn => (ValueGetter<VBuffer<uint>>)GetLabels,
            BoxesColumn => (ValueGetter<VBuffer<float>>)GetBoxes,
            MasksColumn => (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)GetMasks,
            CrowdColumn => (ValueGetter<VBuffer<bool>>)GetCrowd,
            _ => throw new ArgumentOutOfRangeException(nameof(column)),
        };
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException(
                $"Column '{column.Name}' is {column.Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    private int CurrentRow() =>
        _row >= 0 ? _row : throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");

    private void GetLabels(ref VBuffer<uint> value)
    {
        uint[] labels = _view.Labels[CurrentRow()];
        var editor = VBufferEditor.Create(ref value, labels.Length);
        labels.CopyTo(editor.Values);
        value = editor.Commit();
    }

    private void GetBoxes(ref VBuffer<float> value)
    {
        CocoAnnotation[] instances = _view.Instances[CurrentRow()];
        var editor = VBufferEditor.Create(ref value, 4 * instances.Length);
        for (int i = 0; i < instances.Length; i++)
        {
            double[] b = instances[i].Bbox;
            editor.Values[4 * i] = (float)b[0];
            editor.Values[4 * i + 1] = (float)b[1];
            editor.Values[4 * i + 2] = (float)(b[0] + b[2]);
            editor.Values[4 * i + 3] = (float)(b[1] + b[3]);
        }
        value = editor.Commit();
    }

    private void GetMasks(ref VBuffer<ReadOnlyMemory<char>> value)
    {
        int row = CurrentRow();
        CocoImage image = _view.Images[row];
        CocoAnnotation[] instances = _view.Instances[row];
        var editor = VBufferEditor.Create(ref value, instances.Length);
        for (int i = 0; i < instances.Length; i++)
        {
            RleMask mask = instances[i].Segmentation is { } segmentation
                ? segmentation.ToRle(image.Height, image.Width)
                : CocoMask.FromBox(instances[i].Bbox, image.Height, image.Width);
            editor.Values[i] = CocoMask.ToCompressedString(mask).AsMemory();
        }
        value = editor.Commit();
    }

    private void GetCrowd(ref VBuffer<bool> value)
    {
        CocoAnnotation[] instances = _view.Instances[CurrentRow()];
        var editor = VBufferEditor.Create(ref value, instances.Length);
        for (int i = 0; i < instances.Length; i++)
            editor.Values[i] = instances[i].IsCrowd != 0;
        value = editor.Commit();
    }
}
