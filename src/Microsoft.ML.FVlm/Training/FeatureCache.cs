using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// The frozen tower's feature maps per (row, augmentation variant), kept as float16 within a memory
/// budget (least recently used evicted first) and, when a folder is given, spilled to disk so that
/// an evicted entry is read back instead of recomputed. Thread-safe. Disposing frees the native
/// memory and deletes the spilled files.
/// </summary>
internal sealed class FeatureCache : IDisposable
{
    private readonly long _memoryBudget;
    private readonly string? _folder;
    private readonly Dictionary<(ulong Row, int Variant), LinkedListNode<Entry>> _entries = new();
    private readonly LinkedList<Entry> _recency = new();
    private readonly HashSet<(ulong, int)> _onDisk = new();
    private readonly object _gate = new();
    private long _bytes;

    private sealed record Entry((ulong Row, int Variant) Key, Tensor[] Levels, long Bytes);

    /// <param name="memoryBudgetBytes">Most bytes of float16 features held in memory.</param>
    /// <param name="folder">Where evicted entries go; null to drop them.</param>
    public FeatureCache(long memoryBudgetBytes, string? folder)
    {
        _memoryBudget = memoryBudgetBytes;
        _folder = folder;
        if (folder is not null) Directory.CreateDirectory(folder);
    }

    /// <summary>True when (row, variant) is held in memory or on disk.</summary>
    public bool Contains(ulong row, int variant)
    {
        lock (_gate) return _entries.ContainsKey((row, variant)) || _onDisk.Contains((row, variant));
    }

    /// <summary>The cached levels as float32 tensors in the caller's dispose scope, or null.</summary>
    public Tensor[]? TryGet(ulong row, int variant)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue((row, variant), out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                return node.Value.Levels.Select(l => l.to(ScalarType.Float32)).ToArray();
            }
            if (_onDisk.Contains((row, variant)))
            {
                var levels = ReadFromDisk(row, variant);
                var result = levels.Select(l => l.to(ScalarType.Float32)).ToArray();
                Store((row, variant), levels);
                return result;
            }
            return null;
        }
    }

    /// <summary>Stores a copy of <paramref name="levels"/> (float16).</summary>
    public void Add(ulong row, int variant, IReadOnlyList<Tensor> levels)
    {
        var halves = levels.Select(l => { var h = l.to(ScalarType.Float16).contiguous(); h.DetachFromDisposeScope(); return h; }).ToArray();
        lock (_gate) Store((row, variant), halves);
    }

    private void Store((ulong, int) key, Tensor[] halves)
    {
        if (_entries.ContainsKey(key)) { foreach (var h in halves) h.Dispose(); return; }
        long bytes = halves.Sum(h => h.NumberOfElements * 2);
        var node = _recency.AddFirst(new Entry(key, halves, bytes));
        _entries[key] = node;
        _bytes += bytes;
        while (_bytes > _memoryBudget && _recency.Last is { } last && last != node)
            Evict(last);
    }

    private void Evict(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Bytes;
        if (_folder is not null && !_onDisk.Contains(node.Value.Key))
        {
            WriteToDisk(node.Value.Key, node.Value.Levels);
            _onDisk.Add(node.Value.Key);
        }
        foreach (var level in node.Value.Levels) level.Dispose();
    }

    private string PathOf((ulong Row, int Variant) key) => Path.Combine(_folder!, $"{key.Row}-{key.Variant}.f16");

    private void WriteToDisk((ulong, int) key, Tensor[] levels)
    {
        using var writer = new BinaryWriter(File.Create(PathOf(key)));
        writer.Write(levels.Length);
        foreach (var level in levels)
        {
            writer.Write(level.dim());
            foreach (long d in level.shape) writer.Write(d);
            writer.Write(level.bytes);
        }
    }

    private Tensor[] ReadFromDisk(ulong row, int variant)
    {
        using var reader = new BinaryReader(File.OpenRead(PathOf((row, variant))));
        var levels = new Tensor[reader.ReadInt32()];
        for (int i = 0; i < levels.Length; i++)
        {
            var shape = new long[reader.ReadInt64()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
            var level = empty(shape, dtype: ScalarType.Float16);
            level.DetachFromDisposeScope();
            reader.BaseStream.ReadExactly(level.bytes);
            levels[i] = level;
        }
        return levels;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _recency) foreach (var level in entry.Levels) level.Dispose();
            _recency.Clear();
            _entries.Clear();
            if (_folder is not null)
                foreach (var key in _onDisk) File.Delete(PathOf(key));
            _onDisk.Clear();
        }
    }
}
