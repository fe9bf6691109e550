using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// Large-scale jitter (Ghiasi et al., 2021) with horizontal flip, as F-VLM trains: the image is
/// resized to fit the square canvas, scaled again by a random factor in [<c>MinScale</c>,
/// <c>MaxScale</c>] (0.1 to 2.0), flipped with probability one half, and cropped at a random
/// offset where it exceeds the canvas (padded where it falls short).
/// </summary>
/// <remarks>
/// F-VLM's saving comes from computing the frozen tower's features once per (image, augmentation).
/// A continuous jitter would never repeat, so each image has <c>variants</c> fixed augmentations,
/// drawn from (seed, row, variant) alone: the same variant always gives the same transform, and
/// its features can be cached.
/// </remarks>
internal sealed class LargeScaleJitter
{
    private readonly int _canvas;
    private readonly double _minScale, _maxScale;
    private readonly bool _flip;
    private readonly int _seed;

    public LargeScaleJitter(int canvasSize, double minScale, double maxScale, bool flip, int seed)
    {
        if (canvasSize <= 0) throw new ArgumentOutOfRangeException(nameof(canvasSize), canvasSize, "must be positive");
        if (!(minScale > 0) || maxScale < minScale) throw new ArgumentException($"Jitter scales must satisfy 0 < min <= max; got {minScale} to {maxScale}.");
        (_canvas, _minScale, _maxScale, _flip, _seed) = (canvasSize, minScale, maxScale, flip, seed);
    }

    /// <summary>The transform of variant <paramref name="variant"/> of row <paramref name="row"/>, and the image's size on the canvas.</summary>
    public (ImageTransform Transform, int Height, int Width) Sample(ulong row, int variant, int imageHeight, int imageWidth)
    {
        var random = new SplitMix(Mix((ulong)_seed, row, (ulong)variant));
        double factor = _minScale + (_maxScale - _minScale) * random.NextDouble();
        float scale = (float)(factor * _canvas / Math.Max(imageHeight, imageWidth));
        int scaledHeight = Math.Max(1, (int)Math.Round(imageHeight * scale));
        int scaledWidth = Math.Max(1, (int)Math.Round(imageWidth * scale));
        int offsetY = scaledHeight > _canvas ? (int)(random.NextDouble() * (scaledHeight - _canvas + 1)) : 0;
        int offsetX = scaledWidth > _canvas ? (int)(random.NextDouble() * (scaledWidth - _canvas + 1)) : 0;
        bool flip = _flip && random.NextDouble() < 0.5;
        return (new ImageTransform(scale, offsetX, offsetY, flip), Math.Min(_canvas, scaledHeight - offsetY), Math.Min(_canvas, scaledWidth - offsetX));
    }

    /// <summary>The transform used without augmentation: fit the canvas, no flip.</summary>
    public static (ImageTransform Transform, int Height, int Width) Fit(int canvasSize, int imageHeight, int imageWidth)
    {
        float scale = (float)canvasSize / Math.Max(imageHeight, imageWidth);
        return (new ImageTransform(scale, 0, 0, false),
            Math.Min(canvasSize, Math.Max(1, (int)Math.Round(imageHeight * scale))),
            Math.Min(canvasSize, Math.Max(1, (int)Math.Round(imageWidth * scale))));
    }

    private static ulong Mix(ulong a, ulong b, ulong c) => SplitMix.Hash(SplitMix.Hash(SplitMix.Hash(a) ^ b) ^ c);
}

/// <summary>SplitMix64: a small, fixed pseudo-random generator (System.Random's algorithm is not guaranteed across versions).</summary>
internal struct SplitMix
{
    private ulong _state;

    public SplitMix(ulong seed) => _state = seed;

    public ulong Next()
    {
        _state += Golden;
        return Finalize(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>One SplitMix64 step from state <paramref name="value"/>: a well-mixed hash of it.</summary>
    public static ulong Hash(ulong value) => Finalize(value + Golden);

    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
