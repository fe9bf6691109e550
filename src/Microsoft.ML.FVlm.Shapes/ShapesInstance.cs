using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Shapes;

/// <summary>One drawn instance of a <see cref="ShapesScene"/>, annotated or not.</summary>
public sealed class ShapesInstance
{
    internal ShapesInstance(ShapesCategory category, ShapesColor color, ShapeStyle style, int paintedArea, int visibleArea,
        bool isAnnotated, RleMask mask, double[] box, string caption)
    {
        Category = category;
        Color = color;
        Style = style;
        PaintedArea = paintedArea;
        VisibleArea = visibleArea;
        IsAnnotated = isAnnotated;
        Mask = mask;
        Box = box;
        Caption = caption;
    }

    /// <summary>What the instance is.</summary>
    public ShapesCategory Category { get; }

    /// <summary>Its named colour (the dominant one when textured).</summary>
    public ShapesColor Color { get; }

    /// <summary>Solid, outline or textured.</summary>
    public ShapeStyle Style { get; }

    /// <summary>Pixels the instance painted before later instances covered it.</summary>
    public int PaintedArea { get; }

    /// <summary>Pixels of the instance visible in the final image (the area of <see cref="Mask"/>).</summary>
    public int VisibleArea { get; }

    /// <summary>Whether the split annotates it: visible enough, and not novel in <c>train-base</c>.</summary>
    public bool IsAnnotated { get; }

    /// <summary>The visible pixels, COCO RLE over the whole image.</summary>
    public RleMask Mask { get; }

    /// <summary>Tight box of the visible pixels, COCO [x, y, width, height] in pixels ([0, 0, 0, 0] when nothing is visible).</summary>
    public double[] Box { get; }

    /// <summary>"a red hexagon".</summary>
    public string Caption { get; }
}
