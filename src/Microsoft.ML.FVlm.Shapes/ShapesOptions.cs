namespace Microsoft.ML.FVlm.Shapes;

/// <summary>Options of <see cref="ShapesGenerator"/>. The same options give byte-identical output on any core count.</summary>
public sealed class ShapesOptions
{
    /// <summary>The split to render.</summary>
    public ShapesSplit Split = ShapesSplit.Val;

    /// <summary>Number of images, 1 to 10,000,000.</summary>
    public int ImageCount = 100;

    /// <summary>Random seed. Images are drawn from (seed, stream, image index); the stream is "train" for both training splits.</summary>
    public int Seed;

    /// <summary>Side of the (square) scene images in pixels, 64 to 4096.</summary>
    public int ImageSize = 320;

    /// <summary>Threads used for rendering; -1 means all cores. Does not change the output.</summary>
    public int MaxDegreeOfParallelism = -1;

    /// <summary>Fewest instances per scene, at least 1.</summary>
    public int MinInstances = 1;

    /// <summary>Most instances per scene, at most 10.</summary>
    public int MaxInstances = 10;

    /// <summary>An instance is annotated only if at least this fraction of the pixels it paints stays visible (0 to 1).</summary>
    public double MinVisibleFraction = 0.3;

    /// <summary>An instance is annotated only if at least this many of its pixels stay visible.</summary>
    public int MinVisiblePixels = 16;

    /// <summary>Captions split only: fraction of images that are single-object crops (the rest are scenes), 0 to 1.</summary>
    public double CropFraction = 0.75;

    /// <summary>Captions split only: side of the object crops in pixels, 16 to <see cref="ImageSize"/>.</summary>
    public int CropSize = 64;

    /// <summary>Checks every field; the message names the field and the expected range.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        Check(nameof(ImageCount), ImageCount >= 1 && ImageCount <= 10_000_000, "between 1 and 10000000", ImageCount);
        Check(nameof(ImageSize), ImageSize >= 64 && ImageSize <= 4096, "between 64 and 4096", ImageSize);
        Check(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism == -1 || MaxDegreeOfParallelism >= 1, "-1 or at least 1", MaxDegreeOfParallelism);
        Check(nameof(MaxInstances), MaxInstances >= 1 && MaxInstances <= 10, "between 1 and 10", MaxInstances);
        Check(nameof(MinInstances), MinInstances >= 1 && MinInstances <= MaxInstances, $"between 1 and MaxInstances ({MaxInstances})", MinInstances);
        Check(nameof(MinVisibleFraction), MinVisibleFraction >= 0 && MinVisibleFraction <= 1, "between 0 and 1", MinVisibleFraction);
        Check(nameof(MinVisiblePixels), MinVisiblePixels >= 1, "at least 1", MinVisiblePixels);
        Check(nameof(CropFraction), CropFraction >= 0 && CropFraction <= 1, "between 0 and 1", CropFraction);
        Check(nameof(CropSize), CropSize >= 16 && CropSize <= ImageSize, $"between 16 and ImageSize ({ImageSize})", CropSize);
        if (!Enum.IsDefined(Split))
            throw new ArgumentException($"Split must be one of {string.Join(", ", ShapesSplitNames.All)} (got {(int)Split}).");
    }

    internal ShapesOptions Clone() => (ShapesOptions)MemberwiseClone();

    private static void Check(string field, bool ok, string expected, object actual)
    {
        if (!ok)
            throw new ArgumentException($"{field} must be {expected} (got {actual}).");
    }
}
