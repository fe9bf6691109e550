namespace Microsoft.ML.FVlm.Data;

/// <summary>One entry of a COCO / LVIS <c>"images"</c> list.</summary>
public sealed class CocoImage
{
    /// <summary><c>"id"</c>, unique in the file.</summary>
    public long Id { get; set; }

    /// <summary>
    /// <c>"file_name"</c>, relative to the image folder. LVIS files have none; the reader then takes
    /// the last segment of <see cref="CocoUrl"/> (LVIS images keep their COCO 2017 file names). Empty when
    /// the file has neither: evaluation needs no file name (nor do pycocotools and lvis-api), but loading
    /// the images (<see cref="CocoCatalog.LoadFromCocoDataset"/>, training) fails on it.
    /// </summary>
    public string FileName { get; set; } = "";

    /// <summary><c>"width"</c> in pixels.</summary>
    public int Width { get; set; }

    /// <summary><c>"height"</c> in pixels.</summary>
    public int Height { get; set; }

    /// <summary><c>"license"</c>, optional.</summary>
    public long? License { get; set; }

    /// <summary><c>"coco_url"</c>, optional.</summary>
    public string? CocoUrl { get; set; }

    /// <summary><c>"flickr_url"</c>, optional.</summary>
    public string? FlickrUrl { get; set; }

    /// <summary><c>"date_captured"</c>, optional.</summary>
    public string? DateCaptured { get; set; }

    /// <summary>LVIS <c>"neg_category_ids"</c>: categories verified absent from the image.</summary>
    public List<long>? NegCategoryIds { get; set; }

    /// <summary>LVIS <c>"not_exhaustive_category_ids"</c>: categories whose instances are not all annotated.</summary>
    public List<long>? NotExhaustiveCategoryIds { get; set; }
}
