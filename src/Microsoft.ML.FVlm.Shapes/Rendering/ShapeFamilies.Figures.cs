using SkiaSharp;
using static Microsoft.ML.FVlm.Shapes.Rendering.ShapeGeometry;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>Signs, symbols and thick-line shapes (arrow, heart, lightning bolt, spiral, wave...).</summary>
internal static partial class ShapeFamilies
{
    /// <summary>A Latin cross: the lower arm is clearly longer than the others.</summary>
    public static readonly ShapeFamily Cross = new(r =>
    {
        double w = r.Uniform(0.14, 0.2), arm = r.Uniform(0.5, 0.65), bar = r.Uniform(-0.5, -0.35);
        return Polygon((-w, -1), (w, -1), (w, bar - w), (arm, bar - w), (arm, bar + w), (w, bar + w),
            (w, 1), (-w, 1), (-w, bar + w), (-arm, bar + w), (-arm, bar - w), (-w, bar - w));
    }, maxRotationDegrees: 30);

    /// <summary>Four equal arms, kept near upright so it never becomes an "x".</summary>
    public static readonly ShapeFamily PlusSign = new(r =>
    {
        double w = r.Uniform(0.2, 0.33);
        return Polygon((-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w),
            (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w));
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily Arrow = new(r =>
    {
        double shaft = r.Uniform(0.15, 0.28), head = r.Uniform(0.5, 0.8), wing = r.Uniform(0.45, 0.7);
        return Polygon((-1, -shaft), (1 - head, -shaft), (1 - head, -wing), (1, 0),
            (1 - head, wing), (1 - head, shaft), (-1, shaft));
    });

    public static readonly ShapeFamily Chevron = new(r =>
    {
        double t = r.Uniform(0.35, 0.6), depth = r.Uniform(0.7, 1.0);
        return Polygon((-depth / 2, -1), (-depth / 2 + t, -1), (depth / 2 + t, 0),
            (-depth / 2 + t, 1), (-depth / 2, 1), (depth / 2, 0));
    });

    public static readonly ShapeFamily Heart = new(r =>
    {
        double squash = r.Uniform(0.9, 1.1);
        return Parametric(64, t =>
        {
            double s = Math.Sin(t);
            return (16 * s * s * s / 16, -squash * (13 * Math.Cos(t) - 5 * Math.Cos(2 * t) - 2 * Math.Cos(3 * t) - Math.Cos(4 * t)) / 16);
        });
    }, maxRotationDegrees: 30);

    /// <summary>A drop with a pointed top: x = sin t sin^m(t / 2), y = -cos t.</summary>
    public static readonly ShapeFamily Teardrop = new(r =>
    {
        double m = r.Uniform(1.0, 1.6), width = r.Uniform(0.65, 0.85);
        return Parametric(64, t => (width * Math.Sin(t) * Math.Pow(Math.Sin(t / 2), m), -Math.Cos(t)));
    });

    /// <summary>Pointed at both ends (two curved sides).</summary>
    public static readonly ShapeFamily Leaf = new(r =>
    {
        float w = (float)r.Uniform(0.35, 0.6), lean = (float)r.Uniform(-0.2, 0.2);
        var path = new SKPath();
        path.MoveTo(0, -1);
        path.QuadTo(2 * w, lean, 0, 1);
        path.QuadTo(-2 * w, -lean, 0, -1);
        path.Close();
        return path;
    });

    public static readonly ShapeFamily LightningBolt = new(r =>
    {
        double J() => r.Uniform(-0.05, 0.05);
        return Polygon((0.1 + J(), -1), (-0.45 + J(), 0.15), (-0.05 + J(), 0.15), (-0.25 + J(), 1),
            (0.45 + J(), -0.2), (0.05 + J(), -0.2), (0.35 + J(), -1));
    }, maxRotationDegrees: 35);

    public static readonly ShapeFamily SpeechBubble = new(r =>
    {
        var body = new SKPath();
        float bottom = (float)r.Uniform(0.3, 0.5), radius = (float)r.Uniform(0.2, 0.35);
        body.AddRoundRect(new SKRect(-1, -0.7f, 1, bottom), radius, radius);
        double x = r.Uniform(-0.5, 0.2);
        var tail = Polygon((x, bottom - 0.1), (x + 0.3, bottom - 0.1), (x - r.Uniform(0.0, 0.3), 1));
        return Union(body, tail);
    }, maxRotationDegrees: 25);

    public static readonly ShapeFamily Cloud = new(r =>
    {
        int bumps = r.Next(3, 5);
        var parts = new List<SKPath> { Rect(-0.75, 0.0, 0.75, 0.45) };
        for (int i = 0; i < bumps; i++)
        {
            double x = -0.7 + 1.4 * i / (bumps - 1);
            double radius = i == 0 || i == bumps - 1 ? 0.3 : r.Uniform(0.4, 0.55);
            parts.Add(ShapeGeometry.Circle(x, 0.45 - radius * r.Uniform(0.9, 1.3), radius));
        }
        parts.Add(ShapeGeometry.Circle(-0.7, 0.15, 0.3));
        parts.Add(ShapeGeometry.Circle(0.7, 0.15, 0.3));
        return Union(parts.ToArray());
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily House = new(r =>
    {
        double eave = r.Uniform(-0.3, 0.0), wall = r.Uniform(0.6, 0.8);
        var body = Rect(-wall, eave, wall, 1);
        var roof = Polygon((-1, eave), (1, eave), (0, -1));
        var chimney = Rect(0.35, -0.9, 0.55, eave - 0.1);
        return Union(body, roof, chimney);
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily Hourglass = new(r =>
    {
        double neck = r.Uniform(0.05, 0.15), width = r.Uniform(0.55, 0.8);
        return Polygon((-width, -1), (width, -1), (neck, 0), (width, 1), (-width, 1), (-neck, 0));
    }, maxRotationDegrees: 30);

    public static readonly ShapeFamily Shield = new(r =>
    {
        float shoulder = (float)r.Uniform(-0.1, 0.2);
        var path = new SKPath();
        path.MoveTo(-0.8f, -1);
        path.LineTo(0.8f, -1);
        path.LineTo(0.8f, shoulder);
        path.QuadTo(0.8f, 0.7f, 0, 1);
        path.QuadTo(-0.8f, 0.7f, -0.8f, shoulder);
        path.Close();
        return path;
    }, maxRotationDegrees: 25);

    public static readonly ShapeFamily Keyhole = new(r =>
    {
        double head = r.Uniform(0.4, 0.5), foot = r.Uniform(0.3, 0.45);
        return Union(ShapeGeometry.Circle(0, -1 + head, head), Polygon((-0.15, -1 + head), (0.15, -1 + head), (foot, 1), (-foot, 1)));
    }, maxRotationDegrees: 30);

    public static readonly ShapeFamily Tag = new(r =>
    {
        double h = r.Uniform(0.4, 0.55), point = r.Uniform(0.35, 0.5);
        var path = Polygon((-1, 0), (-1 + point, -h), (1, -h), (1, h), (-1 + point, h));
        path.AddCircle((float)(-1 + point * 1.05), 0, (float)(h * 0.3));
        path.FillType = SKPathFillType.EvenOdd;
        return path;
    });

    public static readonly ShapeFamily Bone = new(r =>
    {
        double knob = r.Uniform(0.2, 0.27), shaft = r.Uniform(0.1, 0.16);
        return Union(Rect(-0.75, -shaft, 0.75, shaft),
            ShapeGeometry.Circle(-0.75, -knob * 0.9, knob), ShapeGeometry.Circle(-0.75, knob * 0.9, knob),
            ShapeGeometry.Circle(0.75, -knob * 0.9, knob), ShapeGeometry.Circle(0.75, knob * 0.9, knob));
    });

    public static readonly ShapeFamily Crown = new(r =>
    {
        int spikes = r.Next(3, 6);
        double valley = r.Uniform(-0.35, -0.05), bottom = r.Uniform(0.4, 0.7);
        var points = new List<(double, double)> { (-1, bottom), (1, bottom) };
        for (int i = spikes; i >= 0; i--)
        {
            double x = -1 + 2.0 * i / spikes;
            points.Add((x, -1));
            if (i > 0)
                points.Add((x - 1.0 / spikes, valley));
        }
        return Polygon(points.ToArray());
    }, maxRotationDegrees: 20);

    public static readonly ShapeFamily Spiral = new(r =>
    {
        double turns = r.Uniform(2.2, 3.2), width = r.Uniform(0.1, 0.14);
        int count = (int)(turns * 32);
        var points = new (double, double)[count + 1];
        for (int i = 0; i <= count; i++)
        {
            double theta = 2 * Math.PI * turns * i / count, radius = (double)i / count;
            points[i] = (radius * Math.Cos(theta), radius * Math.Sin(theta));
        }
        return ThickPolyline(points, width);
    }, isThickLine: true);

    public static readonly ShapeFamily Zigzag = new(r =>
    {
        int segments = r.Next(3, 7);
        double amplitude = r.Uniform(0.3, 0.6);
        var points = new (double, double)[segments + 1];
        for (int i = 0; i <= segments; i++)
            points[i] = (-1 + 2.0 * i / segments, i % 2 == 0 ? -amplitude : amplitude);
        return ThickPolyline(points, r.Uniform(0.12, 0.2));
    }, isThickLine: true);

    public static readonly ShapeFamily Wave = new(r =>
    {
        double periods = r.Uniform(1.5, 2.5), amplitude = r.Uniform(0.25, 0.45);
        var points = new (double, double)[65];
        for (int i = 0; i < points.Length; i++)
        {
            double x = -1 + 2.0 * i / (points.Length - 1);
            points[i] = (x, amplitude * Math.Sin(Math.PI * periods * (x + 1)));
        }
        return ThickPolyline(points, r.Uniform(0.12, 0.2));
    }, isThickLine: true);

    public static readonly ShapeFamily CheckMark = new(r =>
        ThickPolyline(new[] { (-0.8, r.Uniform(-0.1, 0.1)), (-0.25, r.Uniform(0.5, 0.7)), (0.9, r.Uniform(-0.9, -0.6)) }, r.Uniform(0.18, 0.26)),
        maxRotationDegrees: 25, isThickLine: true);
}
