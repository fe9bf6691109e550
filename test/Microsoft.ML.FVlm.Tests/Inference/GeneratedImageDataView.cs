using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>
/// A test input: <c>Id</c> (int, the row index), <c>Image</c> (a fresh random <see cref="MLImage"/>
/// each time it is read, seeded by the row) and <c>Tags</c> (float vector [row, 2 row, 3 row]
/// truncated to row % 3 + 1 items). Every image made is recorded so tests can see which are alive.
/// </summary>
internal sealed class GeneratedImageDataView(int rows, int height = 48, int width = 64) : IDataView
{
    public const int IdColumn = 0, ImageColumn = 1, TagsColumn = 2;

    public int Rows => rows;

    public List<MLImage> Created { get; } = [];

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; } = BuildSchema();

    public long? GetRowCount() => rows;

    /// <summary>The image of <paramref name="row"/>, as the view makes it.</summary>
    public MLImage MakeImage(int row) => TinyModels.RandomImage(height, width, 100 + row);

    /// <summary>Images made so far that are not disposed.</summary>
    public int LiveImages() => Created.Count(image => !IsDisposed(image));

    public static bool IsDisposed(MLImage image)
    {
        try
        {
            _ = image.Width;
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return true;
        }
    }

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static DataViewSchema BuildSchema()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Id", NumberDataViewType.Int32);
        builder.AddColumn("Image", new ImageDataViewType());
        builder.AddColumn("Tags", new VectorDataViewType(NumberDataViewType.Single));
        return builder.ToSchema();
    }

    private sealed class Cursor(GeneratedImageDataView view, HashSet<int> active) : DataViewRowCursor
    {
        private long _position = -1;
        private readonly float[] _tags = new float[3]; // reused on purpose: consumers must copy

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext() => ++_position < view.Rows;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 7);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active.Contains(column.Index)) throw new InvalidOperationException($"Inactive column {column.Name}.");
            Delegate getter = column.Index switch
            {
                IdColumn => (ValueGetter<int>)((ref int v) => v = (int)_position),
                ImageColumn => (ValueGetter<MLImage>)GetImage,
                _ => (ValueGetter<VBuffer<float>>)GetTags,
            };
            return (ValueGetter<TValue>)getter;
        }

        private void GetImage(ref MLImage value)
        {
            value = view.MakeImage((int)_position);
            view.Created.Add(value);
        }

        private void GetTags(ref VBuffer<float> value)
        {
            int count = (int)(_position % 3) + 1;
            for (int i = 0; i < count; i++) _tags[i] = _position * (i + 1);
            value = new VBuffer<float>(count, _tags);
        }
    }
}
