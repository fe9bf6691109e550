using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// One parametric family: draws a random member as a closed region in a unit frame (about [-1, 1], y down,
/// upright). The renderer then scales it to the instance size, rotates it by at most
/// <see cref="MaxRotationDegrees"/> either way and places it.
/// </summary>
internal sealed class ShapeFamily
{
    private readonly Func<ShapesRandom, SKPath> _build;

    public ShapeFamily(Func<ShapesRandom, SKPath> build, double maxRotationDegrees = 180, bool isThickLine = false)
    {
        _build = build;
        MaxRotationDegrees = maxRotationDegrees;
        IsThickLine = isThickLine;
    }

    /// <summary>
    /// Largest rotation from upright. Small for shapes whose identity depends on orientation
    /// (a square turned 45 degrees would be a diamond, a plus sign a cross-like "x").
    /// </summary>
    public double MaxRotationDegrees { get; }

    /// <summary>Shapes drawn as a thick line (spiral, wave...): rendered filled or textured, never as an outline.</summary>
    public bool IsThickLine { get; }

    public SKPath Build(ShapesRandom random) => _build(random);
}
