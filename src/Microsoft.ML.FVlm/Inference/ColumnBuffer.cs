using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// The values of one input column for the rows of a batch, read ahead from the input cursor and
/// served back one row at a time. Vector values are copied in and copied out, so neither the
/// input's getter nor the consumer can alias the buffered data; other values (numbers, text,
/// images) are kept as they are.
/// </summary>
internal abstract class ColumnBuffer
{
    /// <summary>A buffer of <paramref name="capacity"/> rows for <paramref name="column"/> of <paramref name="input"/>.</summary>
    public static ColumnBuffer Create(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        Type raw = column.Type.RawType;
        Type bufferType = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(VectorColumnBuffer<>).MakeGenericType(raw.GetGenericArguments()[0])
            : typeof(ScalarColumnBuffer<>).MakeGenericType(raw);
        return (ColumnBuffer)Activator.CreateInstance(bufferType, input, column, capacity)!;
    }

    /// <summary>Reads the input's current row into <paramref name="slot"/>.</summary>
    public abstract void Read(int slot);

    /// <summary>A <c>ValueGetter</c> of the column's raw type that reads the slot <paramref name="currentSlot"/> returns.</summary>
    public abstract Delegate MakeGetter(Func<int> currentSlot);

    /// <summary>Drops the references the buffer holds (the arrays of vectors are kept for reuse).</summary>
    public abstract void Clear();
}

/// <summary>A column whose values are not vectors.</summary>
internal sealed class ScalarColumnBuffer<T> : ColumnBuffer
{
    private readonly ValueGetter<T> _getter;

    public ScalarColumnBuffer(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        _getter = input.GetGetter<T>(column);
        Values = new T[capacity];
    }

    /// <summary>The buffered values, one per slot.</summary>
    public T[] Values { get; }

    public override void Read(int slot)
    {
        // Start from default: a getter may dispose what the reference passed in holds (ML.NET's
        // image loader does), and the previous batch's value may still be in use downstream.
        T value = default!;
        _getter(ref value);
        Values[slot] = value;
    }

    public override Delegate MakeGetter(Func<int> currentSlot) => (ValueGetter<T>)((ref T value) => value = Values[currentSlot()]);

    public override void Clear() => Array.Clear(Values);

    /// <summary>Calls the input's getter once more on the current row and returns what it gives (for <see cref="DetectionCursor"/>'s ownership probe).</summary>
    public T ReadAgain()
    {
        T value = default!;
        _getter(ref value);
        return value;
    }
}

/// <summary>A vector column: values are copied into buffers the input cannot see.</summary>
internal sealed class VectorColumnBuffer<T> : ColumnBuffer
{
    private readonly ValueGetter<VBuffer<T>> _getter;
    private readonly VBuffer<T>[] _values;
    private VBuffer<T> _scratch;

    public VectorColumnBuffer(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        _getter = input.GetGetter<VBuffer<T>>(column);
        _values = new VBuffer<T>[capacity];
    }

    public override void Read(int slot)
    {
        _getter(ref _scratch);
        _scratch.CopyTo(ref _values[slot]);
    }

    public override Delegate MakeGetter(Func<int> currentSlot) =>
        (ValueGetter<VBuffer<T>>)((ref VBuffer<T> value) => _values[currentSlot()].CopyTo(ref value));

    public override void Clear()
    {
        // Text and other reference items would otherwise stay reachable.
        if (!typeof(T).IsValueType || typeof(T) == typeof(ReadOnlyMemory<char>))
            for (int i = 0; i < _values.Length; i++)
                _values[i] = default;
    }
}
