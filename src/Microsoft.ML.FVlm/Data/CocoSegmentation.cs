namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// The <c>"segmentation"</c> of a COCO annotation, in one of its three JSON forms: polygons
/// <c>[[x1, y1, x2, y2, ...], ...]</c> in pixels, uncompressed RLE <c>{"size": [h, w], "counts": [ints]}</c>,
/// or compressed RLE <c>{"size": [h, w], "counts": "string"}</c>.
/// </summary>
public sealed class CocoSegmentation
{
    private CocoSegmentation(IReadOnlyList<double[]>? polygons, RleMask? rle, bool compressed)
    {
        Polygons = polygons;
        Rle = rle;
        IsCompressed = compressed;
    }

    /// <summary>The polygons, or null for an RLE segmentation.</summary>
    public IReadOnlyList<double[]>? Polygons { get; }

    /// <summary>The mask, or null for a polygon segmentation.</summary>
    public RleMask? Rle { get; }

    /// <summary>For RLE: whether the counts are (to be) written as the compressed string.</summary>
    public bool IsCompressed { get; }

    /// <summary>A segmentation given as RLE.</summary>
    /// <param name="rle">The mask.</param>
    /// <param name="compressed">Write the counts as the compressed string (true) or as integers.</param>
    public static CocoSegmentation FromRle(RleMask rle, bool compressed = true)
    {
        ArgumentNullException.ThrowIfNull(rle);
        return new CocoSegmentation(null, rle, compressed);
    }

    /// <summary>A segmentation given as polygons <c>[x1, y1, x2, y2, ...]</c> in pixels.</summary>
    public static CocoSegmentation FromPolygons(IReadOnlyList<double[]> polygons)
    {
        ArgumentNullException.ThrowIfNull(polygons);
        return new CocoSegmentation(polygons, null, false);
    }

    /// <summary>
    /// The mask of an image of the given size: polygons rasterised as pycocotools' <c>annToRLE</c>
    /// (<see cref="CocoMask.FromPolygons"/>); RLE returned as is.
    /// </summary>
    /// <exception cref="ArgumentException">The RLE size differs from the image size.</exception>
    public RleMask ToRle(int imageHeight, int imageWidth)
    {
        if (Polygons is not null)
            return CocoMask.FromPolygons(Polygons, imageHeight, imageWidth);
        if (Rle!.Height != imageHeight || Rle.Width != imageWidth)
            throw new ArgumentException(
                $"The segmentation is {Rle.Height} x {Rle.Width} but the image is {imageHeight} x {imageWidth}.");
        return Rle;
    }
}
