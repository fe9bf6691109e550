using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Cli.Commands;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Cli.Benchmarks;

/// <summary>
/// A PNG of where inference time goes: one horizontal bar per configuration, split into the stages'
/// shares of the total, with the total time per image at the end of the bar.
/// </summary>
internal static class LatencyChart
{
    private const int Width = 1200, LabelWidth = 430, TotalWidth = 175, RowHeight = 46, Top = 56, LegendHeight = 70;

    private static readonly SKColor[] s_colours =
    [
        new(0x9e, 0x9e, 0x9e), new(0x1f, 0x77, 0xb4), new(0xff, 0x7f, 0x0e), new(0x2c, 0xa0, 0x2c), new(0x94, 0x67, 0xbd), new(0xd6, 0x27, 0x28),
        new(0x17, 0xbe, 0xcf),
    ];

    public static void Write(string path, string title, IReadOnlyList<(string Label, InferenceResult Result)> rows)
    {
        var stages = Enum.GetValues<InferenceStage>();
        int height = Top + rows.Count * RowHeight + LegendHeight;
        using var bitmap = new SKBitmap(Width, height);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var text = new SKFont { Size = 15 };
        using var heading = new SKFont { Size = 18, Embolden = true };
        canvas.DrawText(title, 12, 30, heading, ink);

        float barWidth = Width - LabelWidth - TotalWidth - 24;
        for (int r = 0; r < rows.Count; r++)
        {
            var (label, result) = rows[r];
            float y = Top + r * RowHeight;
            canvas.DrawText(label, 12, y + RowHeight / 2f + 5, text, ink);
            float x = LabelWidth;
            double total = result.Stages.Total.TotalMilliseconds;
            for (int s = 0; s < stages.Length; s++)
            {
                float w = (float)(barWidth * result.Stages[stages[s]].TotalMilliseconds / total);
                using var fill = new SKPaint { Color = s_colours[s] };
                canvas.DrawRect(x, y + 8, w, RowHeight - 16, fill);
                x += w;
            }
            canvas.DrawText($"{result.TotalMillisecondsPerImage:N0} ms / image", LabelWidth + barWidth + 10, y + RowHeight / 2f + 5, text, ink);
        }

        float legendX = 12, legendY = Top + rows.Count * RowHeight + 30;
        for (int s = 0; s < stages.Length; s++)
        {
            using var fill = new SKPaint { Color = s_colours[s] };
            canvas.DrawRect(legendX, legendY - 12, 14, 14, fill);
            string name = StageName(stages[s]);
            canvas.DrawText(name, legendX + 20, legendY, text, ink);
            legendX += 20 + TextWidth.Of(text, name) + 24;
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException($"SkiaSharp could not encode the chart '{path}' as PNG.");
        using var file = File.Create(path);
        data.SaveTo(file);
    }

    /// <summary>The stage's name in the report's tables and the chart's legend.</summary>
    public static string StageName(InferenceStage stage) => stage switch
    {
        InferenceStage.Preprocessing => "preprocessing",
        InferenceStage.ImageTower => "image tower",
        InferenceStage.Head => "head",
        InferenceStage.VlmRegionScoring => "VLM region scoring",
        InferenceStage.PostProcessing => "post-processing",
        InferenceStage.Masks => "masks",
        InferenceStage.Graph => "ONNX graph",
        _ => stage.ToString(),
    };
}
