using Microsoft.ML.FVlm.Shapes.Rendering;

namespace Microsoft.ML.FVlm.Shapes;

/// <summary>A category of the Shapes world: one parametric shape family with an ordinary English name.</summary>
public sealed class ShapesCategory
{
    internal ShapesCategory(int id, string name, string pluralName, ShapeFrequency frequency, ShapeFamily family)
    {
        Id = id;
        Name = name;
        PluralName = pluralName;
        Frequency = frequency;
        Family = family;
    }

    /// <summary>COCO category id, 1-based and dense.</summary>
    public int Id { get; }

    /// <summary>Lower-case English name, possibly several words ("five-pointed star", "speech bubble").</summary>
    public string Name { get; }

    /// <summary>Plural used in captions ("two red crosses").</summary>
    public string PluralName { get; }

    /// <summary>LVIS frequency group.</summary>
    public ShapeFrequency Frequency { get; }

    /// <summary>True for the rare categories: rendered in <c>train-base</c> images but never annotated there.</summary>
    public bool IsNovel => Frequency == ShapeFrequency.Rare;

    /// <summary>LVIS frequency code: "f", "c" or "r".</summary>
    public string FrequencyCode => Frequency switch
    {
        ShapeFrequency.Frequent => "f",
        ShapeFrequency.Common => "c",
        _ => "r",
    };

    internal ShapeFamily Family { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Id}: {Name} ({FrequencyCode})";
}
