namespace Microsoft.ML.FVlm.Shapes;

/// <summary>How an instance is painted. Its mask is exactly the pixels it paints that stay visible.</summary>
public enum ShapeStyle
{
    /// <summary>Filled with one colour.</summary>
    Solid,

    /// <summary>Only the outline is drawn; the interior shows what lies behind and is not part of the mask.</summary>
    Outline,

    /// <summary>Filled with its colour and a pattern (stripes or dots) of a second colour covering at most a third of it.</summary>
    Textured,
}
