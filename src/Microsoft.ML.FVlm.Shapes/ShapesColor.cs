namespace Microsoft.ML.FVlm.Shapes;

/// <summary>A named colour of the Shapes palette. Instances get the base RGB jittered by up to 20 per channel.</summary>
public sealed class ShapesColor
{
    internal ShapesColor(string name, byte red, byte green, byte blue)
    {
        Name = name;
        Red = red;
        Green = green;
        Blue = blue;
    }

    /// <summary>The one-word English colour name used in captions ("red", "gray").</summary>
    public string Name { get; }

    /// <summary>Base red, 0 to 255.</summary>
    public byte Red { get; }

    /// <summary>Base green, 0 to 255.</summary>
    public byte Green { get; }

    /// <summary>Base blue, 0 to 255.</summary>
    public byte Blue { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
