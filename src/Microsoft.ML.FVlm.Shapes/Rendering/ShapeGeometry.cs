using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>Path helpers for the shape families, in a unit frame (about [-1, 1] on each axis, y down).</summary>
internal static class ShapeGeometry
{
    public static SKPath Polygon(params (double X, double Y)[] points)
    {
        var path = new SKPath();
        path.MoveTo((float)points[0].X, (float)points[0].Y);
        for (int i = 1; i < points.Length; i++)
            path.LineTo((float)points[i].X, (float)points[i].Y);
        path.Close();
        return path;
    }

    /// <summary>A closed polygon through <paramref name="count"/> points of a polar curve r(theta), starting at the top.</summary>
    public static SKPath Polar(int count, Func<double, double> radius)
    {
        var points = new (double, double)[count];
        for (int i = 0; i < count; i++)
        {
            double theta = 2 * Math.PI * i / count - Math.PI / 2;
            double r = radius(theta);
            points[i] = (r * Math.Cos(theta), r * Math.Sin(theta));
        }
        return Polygon(points);
    }

    public static SKPath RegularPolygon(int sides) => Polar(sides, _ => 1.0);

    /// <summary>A star with <paramref name="points"/> tips on the unit circle and notches at <paramref name="innerRadius"/>.</summary>
    public static SKPath Star(int points, double innerRadius)
    {
        var vertices = new (double, double)[2 * points];
        for (int i = 0; i < vertices.Length; i++)
        {
            double theta = Math.PI * i / points - Math.PI / 2;
            double r = i % 2 == 0 ? 1.0 : innerRadius;
            vertices[i] = (r * Math.Cos(theta), r * Math.Sin(theta));
        }
        return Polygon(vertices);
    }

    /// <summary>A closed curve sampled at <paramref name="count"/> parameter values in [0, 2 pi).</summary>
    public static SKPath Parametric(int count, Func<double, (double X, double Y)> point)
    {
        var points = new (double, double)[count];
        for (int i = 0; i < count; i++)
            points[i] = point(2 * Math.PI * i / count);
        return Polygon(points);
    }

    public static SKPath Circle(double x, double y, double r)
    {
        var path = new SKPath();
        path.AddCircle((float)x, (float)y, (float)r);
        return path;
    }

    public static SKPath Rect(double left, double top, double right, double bottom)
    {
        var path = new SKPath();
        path.AddRect(new SKRect((float)left, (float)top, (float)right, (float)bottom));
        return path;
    }

    /// <summary>The union of the given paths as one clean outline (so an outline style strokes no inner edges).</summary>
    public static SKPath Union(params SKPath[] parts)
    {
        var result = parts[0];
        for (int i = 1; i < parts.Length; i++)
        {
            var next = result.Op(parts[i], SKPathOp.Union) ?? throw new InvalidOperationException("path union failed");
            result.Dispose();
            parts[i].Dispose();
            result = next;
        }
        return result;
    }

    /// <summary><paramref name="outer"/> minus <paramref name="hole"/>.</summary>
    public static SKPath Difference(SKPath outer, SKPath hole)
    {
        var result = outer.Op(hole, SKPathOp.Difference) ?? throw new InvalidOperationException("path difference failed");
        outer.Dispose();
        hole.Dispose();
        return result;
    }

    /// <summary>An open polyline thickened into a closed region (round joins and caps), <paramref name="width"/> in unit-frame units.</summary>
    public static SKPath ThickPolyline(IReadOnlyList<(double X, double Y)> points, double width)
    {
        using var line = new SKPath();
        line.MoveTo((float)points[0].X, (float)points[0].Y);
        for (int i = 1; i < points.Count; i++)
            line.LineTo((float)points[i].X, (float)points[i].Y);
        using var paint = new SKPaint
        {
            Style = SKPaintStyle.Stroke,
            StrokeWidth = (float)width,
            StrokeJoin = SKStrokeJoin.Round,
            StrokeCap = SKStrokeCap.Round,
        };
        var region = paint.GetFillPath(line) ?? throw new InvalidOperationException("stroking failed");
        // Self-overlapping strokes (spirals) must not cancel out: simplify to one non-overlapping outline.
        var simple = region.Simplify() ?? region;
        if (!ReferenceEquals(simple, region))
            region.Dispose();
        return simple;
    }
}
