namespace Microsoft.ML.FVlm.Data;

/// <summary>Loading COCO / LVIS annotation files into ML.NET.</summary>
public static class CocoCatalog
{
    /// <summary>
    /// Loads a COCO or LVIS instance-annotation JSON file as an <see cref="IDataView"/> with one row
    /// per image and the columns of ML.NET's object-detection trainer. Images are not read here:
    /// the <c>Image</c> column loads each file when its value is requested.
    /// </summary>
    /// <remarks>
    /// Columns (per-instance vectors all have one entry per kept annotation, in file order):
    /// <list type="bullet">
    /// <item><c>Image</c>: <c>MLImage</c>, from <c>LoadImages</c> on <c>ImagePath</c>.</item>
    /// <item><c>ImagePath</c>: text, <paramref name="imageFolder"/> joined with the image's <c>file_name</c>.</item>
    /// <item><c>ImageId</c>: Int64; <c>ImageWidth</c>, <c>ImageHeight</c>: Int32, pixels, from the JSON.</item>
    /// <item><c>Label</c>: variable-length vector of Key&lt;UInt32&gt;; key k (1-based) is the k-th kept
    /// category in ascending id order, and the <c>KeyValues</c> annotation holds the category names.</item>
    /// <item><c>BoundingBoxes</c>: variable-length Single vector, 4 per instance, x0 y0 x1 y1 in pixels
    /// (COCO's <c>[x, y, w, h]</c> as <c>x, y, x + w, y + h</c>).</item>
    /// <item><c>Masks</c>: variable-length text vector, one COCO compressed RLE counts string per instance
    /// (<see cref="CocoMask.FromCompressedString"/> with <c>ImageHeight</c>, <c>ImageWidth</c> decodes it).
    /// Polygons are rasterised as pycocotools does; an annotation without segmentation gets the mask of its box.
    /// Strings keep the column a plain ML.NET type, compact, and equal to what COCO files and results hold.</item>
    /// <item><c>IsCrowd</c>: variable-length Boolean vector, one per instance.</item>
    /// </list>
    /// </remarks>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="jsonPath">The COCO / LVIS annotation file.</param>
    /// <param name="imageFolder">The folder that the images' <c>file_name</c> are relative to.</param>
    /// <param name="options">Crowd, category and empty-image handling; null for the defaults.</param>
    /// <exception cref="CocoFormatException">The file is malformed, or an image has no <c>file_name</c> (the message names
    /// the file and field).</exception>
    public static IDataView LoadFromCocoJson(this DataOperationsCatalog catalog, string jsonPath, string imageFolder,
        CocoLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(jsonPath);
        return catalog.LoadFromCocoDataset(CocoJson.ReadDataset(jsonPath), imageFolder, options);
    }

    /// <summary>
    /// Turns an already read <see cref="CocoDataset"/> into an <see cref="IDataView"/>; the columns are
    /// those of <see cref="LoadFromCocoJson"/>.
    /// </summary>
    /// <exception cref="CocoFormatException">An image has no <c>file_name</c>.</exception>
    public static IDataView LoadFromCocoDataset(this DataOperationsCatalog catalog, CocoDataset dataset, string imageFolder,
        CocoLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(imageFolder);
        var annotations = new CocoDataView(dataset, imageFolder, options ?? new CocoLoaderOptions());
        // LoadImages is lazy: an image is read when the Image getter is called, not here. The catalog
        // does not expose its environment, and the loader needs none beyond a context of its own.
        var loader = new MLContext().Transforms.LoadImages(CocoColumnNames.Image, imageFolder: null!, CocoColumnNames.ImagePath);
        return loader.Fit(annotations).Transform(annotations);
    }
}
