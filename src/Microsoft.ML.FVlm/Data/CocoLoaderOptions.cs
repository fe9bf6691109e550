namespace Microsoft.ML.FVlm.Data;

/// <summary>Options of <see cref="CocoCatalog.LoadFromCocoJson(DataOperationsCatalog, string, string, CocoLoaderOptions?)"/>.</summary>
public sealed class CocoLoaderOptions
{
    /// <summary>
    /// Keep crowd annotations (<c>iscrowd = 1</c>). Default false: they are left out of every
    /// per-instance column (<c>Label</c>, <c>BoundingBoxes</c>, <c>Masks</c>, <c>IsCrowd</c>), which
    /// stay aligned. When true they are kept and flagged in <c>IsCrowd</c>.
    /// </summary>
    public bool IncludeCrowd = false;

    /// <summary>
    /// The category ids to keep, or null for all. The <c>Label</c> key space is exactly these
    /// categories, in ascending id order; annotations of other categories are left out.
    /// </summary>
    public IReadOnlyCollection<long>? CategoryIds = null;

    /// <summary>Keep images that have no (kept) annotation, as rows with empty vectors. Default true.</summary>
    public bool IncludeImagesWithoutAnnotations = true;
}

/// <summary>Column names of the data view made by <see cref="CocoCatalog.LoadFromCocoJson(DataOperationsCatalog, string, string, CocoLoaderOptions?)"/>.</summary>
public static class CocoColumnNames
{
    /// <summary><c>Image</c>: <c>MLImage</c>, loaded lazily from <see cref="ImagePath"/>.</summary>
    public const string Image = "Image";

    /// <summary><c>ImagePath</c>: text, the full path of the image file.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary><c>ImageId</c>: Int64, the COCO image id.</summary>
    public const string ImageId = "ImageId";

    /// <summary><c>ImageWidth</c>: Int32, pixels, as stated in the JSON.</summary>
    public const string ImageWidth = "ImageWidth";

    /// <summary><c>ImageHeight</c>: Int32, pixels, as stated in the JSON.</summary>
    public const string ImageHeight = "ImageHeight";

    /// <summary><c>Label</c>: variable-length vector of keys (UInt32), one per instance.</summary>
    public const string Label = "Label";

    /// <summary><c>BoundingBoxes</c>: variable-length Single vector, 4 per instance: x0 y0 x1 y1 in pixels.</summary>
    public const string BoundingBoxes = "BoundingBoxes";

    /// <summary><c>Masks</c>: variable-length text vector, one COCO compressed RLE counts string per instance.</summary>
    public const string Masks = "Masks";

    /// <summary><c>IsCrowd</c>: variable-length Boolean vector, one per instance.</summary>
    public const string IsCrowd = "IsCrowd";
}
