namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// A binary mask of <see cref="Height"/> x <see cref="Width"/> pixels in COCO run-length encoding:
/// the pixels are read in column-major order (down the first column, then the second, ...) and
/// <see cref="Counts"/> holds the lengths of the alternating runs, the first run counting zeros
/// (it is 0 when the first pixel is on). The counts always sum to <c>Height * Width</c>.
/// </summary>
public sealed class RleMask : IEquatable<RleMask>
{
    private readonly uint[] _counts;

    /// <summary>Creates a mask from its run lengths.</summary>
    /// <param name="height">Mask height in pixels (rows).</param>
    /// <param name="width">Mask width in pixels (columns).</param>
    /// <param name="counts">Run lengths, column-major, starting with a run of zeros. Not copied.</param>
    /// <exception cref="ArgumentException">The counts do not sum to <c>height * width</c>.</exception>
    public RleMask(int height, int width, uint[] counts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentNullException.ThrowIfNull(counts);
        long sum = 0;
        foreach (uint c in counts)
            sum += c;
        long expected = (long)height * width;
        if (sum != expected)
            throw new ArgumentException(
                $"RLE counts sum to {sum} but the mask has {height} x {width} = {expected} pixels.", nameof(counts));
        Height = height;
        Width = width;
        // An empty mask (0 pixels) is one empty run of zeros, as pycocotools' rleEncode makes it.
        _counts = counts.Length == 0 ? [0u] : counts;
    }

    /// <summary>Mask height in pixels.</summary>
    public int Height { get; }

    /// <summary>Mask width in pixels.</summary>
    public int Width { get; }

    /// <summary>Run lengths, column-major, alternating zeros and ones, starting with zeros.</summary>
    public ReadOnlyMemory<uint> Counts => _counts;

    /// <summary>The run lengths without a copy; callers must not modify them.</summary>
    internal uint[] RawCounts => _counts;

    /// <summary>Number of pixels that are on.</summary>
    public long Area => CocoMask.Area(this);

    /// <inheritdoc/>
    public bool Equals(RleMask? other) =>
        other is not null && other.Height == Height && other.Width == Width
        && _counts.AsSpan().SequenceEqual(other._counts);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RleMask);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Height);
        hash.Add(Width);
        foreach (uint c in _counts)
            hash.Add(c);
        return hash.ToHashCode();
    }

    /// <summary>The COCO form: size and compressed counts string.</summary>
    public override string ToString() => $"{{size: [{Height}, {Width}], counts: \"{CocoMask.ToCompressedString(this)}\"}}";
}
