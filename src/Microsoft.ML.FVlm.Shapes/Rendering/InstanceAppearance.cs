namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// Colour, style and pattern of one instance, and the colour of each of its pixels. The pattern's second
/// colour covers at most a third of the shape, so the named colour stays the dominant one.
/// </summary>
internal sealed class InstanceAppearance
{
    private readonly uint _primary, _secondary;
    private readonly bool _dots;
    private readonly double _cos, _sin, _inversePeriod;

    private InstanceAppearance(ShapesColor color, ShapeStyle style, uint primary, uint secondary, bool dots, double angle, double period)
    {
        Color = color;
        Style = style;
        _primary = primary;
        _secondary = secondary;
        _dots = dots;
        _cos = Math.Cos(angle);
        _sin = Math.Sin(angle);
        _inversePeriod = 1 / period;
    }

    public ShapesColor Color { get; }

    public ShapeStyle Style { get; }

    /// <summary>Solid 50%, outline 25%, textured 25%; thick-line shapes are never outlined (solid 65%, textured 35%).</summary>
    public static InstanceAppearance Draw(ShapesRandom random, bool isThickLine, double sizePixels)
    {
        var palette = ShapesWorld.Colors;
        int colorIndex = random.Next(0, palette.Count);
        double u = random.NextDouble();
        ShapeStyle style = isThickLine
            ? (u < 0.65 ? ShapeStyle.Solid : ShapeStyle.Textured)
            : (u < 0.5 ? ShapeStyle.Solid : u < 0.75 ? ShapeStyle.Outline : ShapeStyle.Textured);
        uint primary = Jitter(palette[colorIndex], random);
        int otherIndex = (colorIndex + random.Next(1, palette.Count)) % palette.Count;
        uint secondary = Jitter(palette[otherIndex], random);
        bool dots = random.Chance(0.5);
        double angle = random.Uniform(0, Math.PI);
        double period = Math.Max(4, sizePixels * random.Uniform(0.12, 0.25));
        return new InstanceAppearance(palette[colorIndex], style, primary, secondary, dots, angle, period);
    }

    /// <summary>The RGBA8888 (little-endian) colour of the instance at pixel (x, y).</summary>
    public uint ColorAt(int x, int y)
    {
        if (Style != ShapeStyle.Textured)
            return _primary;
        double u = (x * _cos + y * _sin) * _inversePeriod;
        double fu = u - Math.Floor(u);
        if (!_dots)
            return fu < 1.0 / 3 ? _secondary : _primary;
        double v = (y * _cos - x * _sin) * _inversePeriod;
        double fv = v - Math.Floor(v);
        double du = fu - 0.5, dv = fv - 0.5;
        // Dots of radius 0.3 period cover pi * 0.09 = 28% of each cell.
        return du * du + dv * dv < 0.09 ? _secondary : _primary;
    }

    private static uint Jitter(ShapesColor color, ShapesRandom random) => BackgroundPainter.Pack(
        color.Red + random.Next(-20, 21), color.Green + random.Next(-20, 21), color.Blue + random.Next(-20, 21));
}
