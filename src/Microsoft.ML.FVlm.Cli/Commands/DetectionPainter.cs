using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>Draws detections on an image: a translucent mask, the box, and "name score" per detection (novel classes dashed).</summary>
internal static class DetectionPainter
{
    public static void Paint(string imagePath, ImageDetections detections, Vocabulary vocabulary, double minimumScore, string outputPath)
    {
        using var bitmap = SKBitmap.Decode(imagePath) ?? throw new InvalidDataException($"'{imagePath}' is not an image SkiaSharp can decode.");
        using var canvas = new SKCanvas(bitmap);
        float textSize = Math.Max(10, bitmap.Width / 40f);
        for (int d = detections.Count - 1; d >= 0; d--)
        {
            if (detections.Scores[d] < minimumScore) continue;
            var colour = Colour(detections.Classes[d]);
            if (detections.Masks is { } masks) PaintMask(bitmap, masks[d], colour);
            bool novel = vocabulary.IsNovel[detections.Classes[d]];
            using var stroke = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = 2, IsAntialias = true,
                PathEffect = novel ? SKPathEffect.CreateDash([6, 3], 0) : null };
            var box = new SKRect(detections.Boxes[d * 4], detections.Boxes[d * 4 + 1], detections.Boxes[d * 4 + 2], detections.Boxes[d * 4 + 3]);
            canvas.DrawRect(box, stroke);
            string label = $"{vocabulary.Names[detections.Classes[d]]} {detections.Scores[d]:F2}";
            using var fill = new SKPaint { Color = colour };
            using var ink = new SKPaint { Color = SKColors.White, IsAntialias = true };
            using var text = new SKFont { Size = textSize };
            float width = TextWidth.Of(text, label);
            canvas.DrawRect(box.Left, Math.Max(0, box.Top - textSize - 2), width + 4, textSize + 2, fill);
            canvas.DrawText(label, box.Left + 2, Math.Max(textSize, box.Top - 3), text, ink);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException($"SkiaSharp could not encode '{outputPath}' as PNG.");
        using var file = File.Create(outputPath);
        data.SaveTo(file);
    }

    private static void PaintMask(SKBitmap bitmap, RleMask mask, SKColor colour)
    {
        if (mask.Height != bitmap.Height || mask.Width != bitmap.Width) return;
        byte[] pixels = CocoMask.Decode(mask);
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                if (pixels[y * bitmap.Width + x] == 0) continue;
                var p = bitmap.GetPixel(x, y);
                bitmap.SetPixel(x, y, new SKColor((byte)((p.Red + colour.Red) / 2), (byte)((p.Green + colour.Green) / 2), (byte)((p.Blue + colour.Blue) / 2), p.Alpha));
            }
    }

    private static SKColor Colour(int index)
    {
        float hue = index * 137.508f % 360;
        return SKColor.FromHsv(hue, 85, 90);
    }
}
