namespace Microsoft.ML.FVlm.Data;

/// <summary>One entry of a COCO / LVIS <c>"categories"</c> list.</summary>
public sealed class CocoCategory
{
    /// <summary><c>"id"</c>; ids need not be contiguous (COCO uses 1..90 for 80 categories).</summary>
    public long Id { get; set; }

    /// <summary><c>"name"</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary><c>"supercategory"</c>, optional.</summary>
    public string? Supercategory { get; set; }

    /// <summary>LVIS <c>"frequency"</c>: <c>"f"</c> (frequent), <c>"c"</c> (common) or <c>"r"</c> (rare).</summary>
    public string? Frequency { get; set; }

    /// <summary>LVIS <c>"image_count"</c>, optional.</summary>
    public int? ImageCount { get; set; }

    /// <summary>LVIS <c>"instance_count"</c>, optional.</summary>
    public int? InstanceCount { get; set; }

    /// <summary>LVIS <c>"synonyms"</c>, optional.</summary>
    public string[]? Synonyms { get; set; }

    /// <summary>LVIS <c>"synset"</c> (WordNet synset), optional.</summary>
    public string? Synset { get; set; }

    /// <summary>LVIS <c>"def"</c> (definition), optional.</summary>
    public string? Definition { get; set; }
}
