using SkiaSharp;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>
/// The advance width of a line of text. SkiaSharp 3 made <c>SKPaint.MeasureText</c> obsolete and added
/// <c>SKFont.MeasureText(string)</c>, which 2.88 lacks: measuring the glyphs works on both majors.
/// </summary>
internal static class TextWidth
{
    public static float Of(SKFont font, string text)
    {
        var glyphs = new ushort[font.CountGlyphs(text)];
        font.GetGlyphs(text, glyphs);
        return font.MeasureText(glyphs);
    }
}
