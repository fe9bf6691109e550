namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// A COCO or LVIS instance-annotation file: images, annotations and categories
/// (read and written by <see cref="CocoJson"/>).
/// </summary>
public sealed class CocoDataset
{
    /// <summary>The optional <c>"info"</c> block.</summary>
    public CocoInfo? Info { get; set; }

    /// <summary>The optional <c>"licenses"</c> list.</summary>
    public List<CocoLicense>? Licenses { get; set; }

    /// <summary>The <c>"images"</c> list.</summary>
    public List<CocoImage> Images { get; set; } = [];

    /// <summary>The <c>"annotations"</c> list.</summary>
    public List<CocoAnnotation> Annotations { get; set; } = [];

    /// <summary>The <c>"categories"</c> list.</summary>
    public List<CocoCategory> Categories { get; set; } = [];
}

/// <summary>The <c>"info"</c> block of a COCO file; every field optional.</summary>
public sealed class CocoInfo
{
    /// <summary><c>"description"</c>.</summary>
    public string? Description { get; set; }

    /// <summary><c>"url"</c>.</summary>
    public string? Url { get; set; }

    /// <summary><c>"version"</c>.</summary>
    public string? Version { get; set; }

    /// <summary><c>"year"</c>.</summary>
    public int? Year { get; set; }

    /// <summary><c>"contributor"</c>.</summary>
    public string? Contributor { get; set; }

    /// <summary><c>"date_created"</c>.</summary>
    public string? DateCreated { get; set; }
}

/// <summary>One entry of the <c>"licenses"</c> list.</summary>
public sealed class CocoLicense
{
    /// <summary><c>"id"</c>.</summary>
    public long Id { get; set; }

    /// <summary><c>"name"</c>.</summary>
    public string? Name { get; set; }

    /// <summary><c>"url"</c>.</summary>
    public string? Url { get; set; }
}
