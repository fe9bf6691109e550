using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// Paints the clutter behind the instances: a plain colour, a linear or radial gradient or stripes, then
/// optional per-pixel noise and a few thin distractor strokes (lines and curves). Background pixels belong
/// to no instance, so anti-aliasing is allowed here.
/// </summary>
internal static class BackgroundPainter
{
    public static void Paint(SKCanvas canvas, Span<uint> pixels, int size, ShapesRandom random, int maxDistractors)
    {
        SKColor first = RandomColor(random), second = RandomColor(random);
        switch (random.Next(0, 4))
        {
            case 0:
                canvas.Clear(first);
                break;
            case 1:
                FillWithShader(canvas, size, SKShader.CreateLinearGradient(
                    RandomPoint(random, size), RandomPoint(random, size), [first, second], SKShaderTileMode.Clamp));
                break;
            case 2:
                FillWithShader(canvas, size, SKShader.CreateRadialGradient(
                    RandomPoint(random, size), (float)(size * random.Uniform(0.3, 1.0)), [first, second], SKShaderTileMode.Clamp));
                break;
            default:
                PaintStripes(canvas, size, random, first, second);
                break;
        }
        canvas.Flush();

        if (random.Chance(0.6))
            AddNoise(pixels, random, random.Next(4, 29));

        int strokes = random.Next(0, maxDistractors + 1);
        for (int i = 0; i < strokes; i++)
            DrawDistractor(canvas, size, random);
        canvas.Flush();
    }

    private static void FillWithShader(SKCanvas canvas, int size, SKShader shader)
    {
        using (shader)
        using (var paint = new SKPaint { Shader = shader, IsAntialias = false })
            canvas.DrawRect(0, 0, size, size, paint);
    }

    private static void PaintStripes(SKCanvas canvas, int size, ShapesRandom random, SKColor first, SKColor second)
    {
        canvas.Clear(first);
        float period = (float)(size * random.Uniform(0.04, 0.2));
        float width = period * (float)random.Uniform(0.25, 0.6);
        using var paint = new SKPaint { Color = second, IsAntialias = true };
        canvas.Save();
        canvas.RotateDegrees((float)random.Uniform(0, 180), size / 2f, size / 2f);
        for (float x = -size; x < 2 * size; x += period)
            canvas.DrawRect(x, -size, width, 3 * size, paint);
        canvas.Restore();
    }

    /// <summary>Adds uniform noise in [-amplitude, amplitude] to each channel of each pixel (RGBA8888, little-endian).</summary>
    private static void AddNoise(Span<uint> pixels, ShapesRandom random, int amplitude)
    {
        uint span = (uint)(2 * amplitude + 1);
        for (int i = 0; i < pixels.Length; i++)
        {
            ulong bits = random.NextUInt64();
            uint p = pixels[i];
            int r = (int)(p & 0xFF) + (int)(((bits & 0xFFFF) * span) >> 16) - amplitude;
            int g = (int)((p >> 8) & 0xFF) + (int)((((bits >> 16) & 0xFFFF) * span) >> 16) - amplitude;
            int b = (int)((p >> 16) & 0xFF) + (int)((((bits >> 32) & 0xFFFF) * span) >> 16) - amplitude;
            pixels[i] = Pack(r, g, b);
        }
    }

    private static void DrawDistractor(SKCanvas canvas, int size, ShapesRandom random)
    {
        using var paint = new SKPaint
        {
            Color = RandomColor(random),
            IsAntialias = true,
            Style = SKPaintStyle.Stroke,
            StrokeWidth = (float)random.Uniform(1, Math.Max(2, size / 100.0)),
            StrokeCap = SKStrokeCap.Round,
        };
        using var path = new SKPath();
        path.MoveTo(RandomPoint(random, size));
        if (random.Chance(0.5))
            path.LineTo(RandomPoint(random, size));
        else
            path.QuadTo(RandomPoint(random, size), RandomPoint(random, size));
        canvas.DrawPath(path, paint);
    }

    public static uint Pack(int r, int g, int b) =>
        (uint)Math.Clamp(r, 0, 255) | ((uint)Math.Clamp(g, 0, 255) << 8) | ((uint)Math.Clamp(b, 0, 255) << 16) | 0xFF000000u;

    private static SKColor RandomColor(ShapesRandom random) =>
        new((byte)random.Next(0, 256), (byte)random.Next(0, 256), (byte)random.Next(0, 256));

    private static SKPoint RandomPoint(ShapesRandom random, int size) =>
        new((float)random.Uniform(0, size), (float)random.Uniform(0, size));
}
