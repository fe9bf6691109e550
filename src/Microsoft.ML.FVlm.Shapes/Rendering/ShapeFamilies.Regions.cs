using SkiaSharp;
using static Microsoft.ML.FVlm.Shapes.Rendering.ShapeGeometry;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>Round shapes, polygons and stars: the families with the similar pairs (circle / ellipse / ring, square / diamond, pentagon / hexagon / octagon...).</summary>
internal static partial class ShapeFamilies
{
    public static readonly ShapeFamily Circle = new(_ => ShapeGeometry.Circle(0, 0, 1));

    public static readonly ShapeFamily Ellipse = new(r =>
    {
        var path = new SKPath();
        float b = (float)r.Uniform(0.4, 0.7);
        path.AddOval(new SKRect(-1, -b, 1, b));
        return path;
    });

    public static readonly ShapeFamily Ring = new(r =>
    {
        var path = ShapeGeometry.Circle(0, 0, 1);
        path.AddCircle(0, 0, (float)r.Uniform(0.5, 0.75));
        path.FillType = SKPathFillType.EvenOdd;
        return path;
    });

    public static readonly ShapeFamily Semicircle = new(_ =>
    {
        var path = new SKPath();
        path.MoveTo(-1, 0);
        path.ArcTo(new SKRect(-1, -1, 1, 1), 180, 180, false);
        path.Close();
        return path;
    });

    public static readonly ShapeFamily QuarterCircle = new(_ =>
    {
        var path = new SKPath();
        path.MoveTo(0, 0);
        path.LineTo(1, 0);
        path.ArcTo(new SKRect(-1, -1, 1, 1), 0, -90, false);
        path.Close();
        return path;
    });

    public static readonly ShapeFamily Crescent = new(r =>
        Difference(ShapeGeometry.Circle(0, 0, 1), ShapeGeometry.Circle(r.Uniform(0.35, 0.6), 0, r.Uniform(0.8, 0.95))));

    public static readonly ShapeFamily Arch = new(r =>
    {
        double inner = r.Uniform(0.45, 0.7), legs = r.Uniform(0.2, 0.6);
        var outer = Union(Semicircle.Build(r), Rect(-1, 0, 1, legs));
        var hole = Union(ShapeGeometry.Circle(0, 0, inner), Rect(-inner, 0, inner, legs + 0.1));
        return Difference(outer, hole);
    }, maxRotationDegrees: 30);

    public static readonly ShapeFamily Square = new(_ => Rect(-1, -1, 1, 1), maxRotationDegrees: 20);

    public static readonly ShapeFamily Rectangle = new(r =>
    {
        double b = r.Uniform(0.35, 0.65);
        return Rect(-1, -b, 1, b);
    });

    public static readonly ShapeFamily RoundedRectangle = new(r =>
    {
        var path = new SKPath();
        float b = (float)r.Uniform(0.45, 0.75), radius = b * (float)r.Uniform(0.3, 0.55);
        path.AddRoundRect(new SKRect(-1, -b, 1, b), radius, radius);
        return path;
    });

    public static readonly ShapeFamily Pill = new(r =>
    {
        var path = new SKPath();
        float b = (float)r.Uniform(0.3, 0.5);
        path.AddRoundRect(new SKRect(-1, -b, 1, b), b, b);
        return path;
    });

    public static readonly ShapeFamily Diamond = new(r =>
    {
        double a = r.Uniform(0.55, 0.85);
        return Polygon((0, -1), (a, 0), (0, 1), (-a, 0));
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily Frame = new(r =>
    {
        double b = r.Uniform(0.7, 1.0), border = r.Uniform(0.2, 0.35) * b;
        var path = Rect(-1, -b, 1, b);
        path.AddRect(new SKRect((float)(-1 + border), (float)(-b + border), (float)(1 - border), (float)(b - border)));
        path.FillType = SKPathFillType.EvenOdd;
        return path;
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily Triangle = new(r =>
        Polar(3, _ => r.Uniform(0.88, 1.12)));

    public static readonly ShapeFamily RightTriangle = new(r =>
        Polygon((0, 0), (2, 0), (0, -2 * r.Uniform(0.6, 1.4))));

    public static readonly ShapeFamily Pentagon = new(_ => RegularPolygon(5));

    public static readonly ShapeFamily Hexagon = new(_ => RegularPolygon(6));

    public static readonly ShapeFamily Octagon = new(_ => RegularPolygon(8));

    public static readonly ShapeFamily Trapezoid = new(r =>
    {
        double top = r.Uniform(0.35, 0.65), h = r.Uniform(0.45, 0.75);
        return Polygon((-top, -h), (top, -h), (1, h), (-1, h));
    });

    public static readonly ShapeFamily Parallelogram = new(r =>
    {
        double k = r.Uniform(0.25, 0.5), h = r.Uniform(0.4, 0.7);
        return Polygon((-1 + k, -h), (1 + k, -h), (1 - k, h), (-1 - k, h));
    });

    public static readonly ShapeFamily Kite = new(r =>
    {
        double w = r.Uniform(0.45, 0.7), cross = r.Uniform(0.3, 0.5);
        return Polygon((0, -1), (w, -cross), (0, 1), (-w, -cross));
    });

    public static readonly ShapeFamily FivePointedStar = new(r => Star(5, r.Uniform(0.38, 0.5)));

    public static readonly ShapeFamily SixPointedStar = new(r => Star(6, r.Uniform(0.5, 0.6)));

    public static readonly ShapeFamily FourPointedStar = new(r => Star(4, r.Uniform(0.25, 0.4)));

    public static readonly ShapeFamily Gear = new(r =>
    {
        int teeth = r.Next(6, 13);
        double root = r.Uniform(0.75, 0.82);
        // Each tooth spans a quarter of its period at the tip, a quarter on each flank, and a quarter at the root.
        var path = Polar(teeth * 8, theta =>
        {
            double phase = ((theta + Math.PI / 2) / (2 * Math.PI) * teeth % 1 + 1) % 1;
            return phase < 0.25 || phase >= 0.875 ? 1.0 : phase >= 0.375 && phase < 0.75 ? root : (1.0 + root) / 2;
        });
        path.AddCircle(0, 0, (float)r.Uniform(0.25, 0.35));
        path.FillType = SKPathFillType.EvenOdd;
        return path;
    });

    public static readonly ShapeFamily Flower = new(r =>
    {
        int petals = r.Next(5, 9);
        double depth = r.Uniform(0.35, 0.5);
        return Polar(160, theta => 1 - depth + depth * Math.Pow(Math.Abs(Math.Cos(petals * theta / 2)), 0.6));
    });

    public static readonly ShapeFamily Sun = new(r =>
    {
        int rays = r.Next(8, 13);
        double core = r.Uniform(0.45, 0.58), halfWidth = Math.PI / rays * r.Uniform(0.35, 0.55);
        var parts = new SKPath[rays + 1];
        parts[0] = ShapeGeometry.Circle(0, 0, core);
        for (int i = 0; i < rays; i++)
        {
            double a = 2 * Math.PI * i / rays;
            double start = core + 0.1;
            parts[i + 1] = Polygon(
                (start * Math.Cos(a - halfWidth), start * Math.Sin(a - halfWidth)),
                (Math.Cos(a), Math.Sin(a)),
                (start * Math.Cos(a + halfWidth), start * Math.Sin(a + halfWidth)));
        }
        return Union(parts);
    });
}
