using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// Draws a scene: background clutter, then the instances in order, each rasterised without anti-aliasing
/// into a coverage mask and composited into both the image and the instance-id map, so a later instance
/// occludes an earlier one and every mask is exactly the instance's visible pixels. One renderer per
/// thread; it keeps one <see cref="SceneSurface"/> per image size.
/// </summary>
internal sealed class SceneRenderer : IDisposable
{
    private readonly Dictionary<int, SceneSurface> _surfaces = [];
    private readonly double _minVisibleFraction;
    private readonly int _minVisiblePixels;
    private readonly SKPaint _paint = new() { IsAntialias = false, Color = SKColors.White, StrokeJoin = SKStrokeJoin.Round };

    public SceneRenderer(double minVisibleFraction, int minVisiblePixels)
    {
        _minVisibleFraction = minVisibleFraction;
        _minVisiblePixels = minVisiblePixels;
    }

    /// <summary>Draws <paramref name="categories"/> in order over a cluttered background.</summary>
    /// <param name="size">Image side in pixels.</param>
    /// <param name="categories">One entry per instance, in drawing (depth) order.</param>
    /// <param name="isCrop">A single-object crop: the object is centred and 45% to 85% of the side; otherwise sizes are log-uniform in 5% to 50% of the side.</param>
    /// <param name="random">The image's generator.</param>
    public RenderedScene Render(int size, IReadOnlyList<ShapesCategory> categories, bool isCrop, ShapesRandom random)
    {
        if (!_surfaces.TryGetValue(size, out var surface))
            _surfaces[size] = surface = new SceneSurface(size);

        BackgroundPainter.Paint(surface.ImageCanvas, surface.Pixels, size, random, maxDistractors: isCrop ? 3 : 6);
        Array.Clear(surface.Ids);

        var painted = new (ShapesCategory Category, InstanceAppearance Appearance, int Area)[categories.Count];
        for (int k = 0; k < categories.Count; k++)
        {
            var (appearance, area) = DrawInstance(surface, categories[k].Family, (byte)(k + 1), isCrop, random);
            painted[k] = (categories[k], appearance, area);
        }

        var visible = InstanceMapEncoder.Encode(surface.Ids, size, size, categories.Count);
        var instances = new RenderedInstance[categories.Count];
        for (int k = 0; k < instances.Length; k++)
        {
            int area = visible[k].Area;
            instances[k] = new RenderedInstance(painted[k].Category, painted[k].Appearance, painted[k].Area, visible[k])
            {
                IsVisibleEnough = area >= _minVisiblePixels && area >= _minVisibleFraction * painted[k].Area,
            };
        }
        return new RenderedScene(surface, isCrop, instances);
    }

    private (InstanceAppearance Appearance, int PaintedArea) DrawInstance(SceneSurface surface, ShapeFamily family, byte id, bool isCrop, ShapesRandom random)
    {
        int size = surface.Size;
        using var path = family.Build(random);
        double sizePixels = isCrop ? size * random.Uniform(0.45, 0.85) : size * random.LogUniform(0.05, 0.5);
        double rotation = family.MaxRotationDegrees >= 180
            ? random.Uniform(0, 360)
            : random.Uniform(-family.MaxRotationDegrees, family.MaxRotationDegrees);
        var unit = path.Bounds;
        float scale = (float)(sizePixels / Math.Max(unit.Width, unit.Height));
        var matrix = SKMatrix.CreateTranslation(-unit.MidX, -unit.MidY)
            .PostConcat(SKMatrix.CreateScale(scale, scale))
            .PostConcat(SKMatrix.CreateRotationDegrees((float)rotation));
        path.Transform(matrix);

        var appearance = InstanceAppearance.Draw(random, family.IsThickLine, sizePixels);
        float stroke = appearance.Style == ShapeStyle.Outline ? (float)Math.Clamp(0.07 * sizePixels, 2, 10) : 0;
        var bounds = path.Bounds;
        float margin = stroke / 2 + 1;
        path.Offset(Place(bounds.Left, bounds.Right, margin, size, isCrop, random), Place(bounds.Top, bounds.Bottom, margin, size, isCrop, random));

        _paint.Style = stroke > 0 ? SKPaintStyle.Stroke : SKPaintStyle.Fill;
        _paint.StrokeWidth = stroke;
        surface.CoverageCanvas.DrawPath(path, _paint);
        bounds = path.Bounds;
        return (appearance, Composite(surface, appearance, id, bounds, (int)Math.Ceiling(margin) + 1));
    }

    /// <summary>Offset that puts [low, high] inside [margin, size - margin]: uniform in scenes, near the centre in crops.</summary>
    private static float Place(float low, float high, float margin, int size, bool isCrop, ShapesRandom random)
    {
        double min = margin - low, max = size - margin - high;
        if (min > max)
            return (float)((min + max) / 2);
        if (!isCrop)
            return (float)random.Uniform(min, max);
        double centred = size / 2.0 - (low + high) / 2 + size * random.Uniform(-0.05, 0.05);
        return (float)Math.Clamp(centred, min, max);
    }

    /// <summary>Moves the coverage mask into the image and the id map (clearing it on the way); returns the painted area.</summary>
    private static int Composite(SceneSurface surface, InstanceAppearance appearance, byte id, SKRect bounds, int margin)
    {
        int size = surface.Size;
        int x0 = Math.Max(0, (int)Math.Floor(bounds.Left) - margin), x1 = Math.Min(size, (int)Math.Ceiling(bounds.Right) + margin);
        int y0 = Math.Max(0, (int)Math.Floor(bounds.Top) - margin), y1 = Math.Min(size, (int)Math.Ceiling(bounds.Bottom) + margin);
        var coverage = surface.CoverageBytes;
        var pixels = surface.Pixels;
        var ids = surface.Ids;
        int area = 0;
        for (int y = y0; y < y1; y++)
        {
            int row = y * size;
            for (int x = x0; x < x1; x++)
            {
                int i = row + x;
                if (coverage[i] == 0)
                    continue;
                coverage[i] = 0;
                ids[i] = id;
                pixels[i] = appearance.ColorAt(x, y);
                area++;
            }
        }
        return area;
    }

    public void Dispose()
    {
        foreach (var surface in _surfaces.Values)
            surface.Dispose();
        _paint.Dispose();
    }
}
