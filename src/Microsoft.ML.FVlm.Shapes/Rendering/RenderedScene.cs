namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>One drawn instance: what it is, how many pixels it painted, and what stayed visible.</summary>
internal sealed record RenderedInstance(ShapesCategory Category, InstanceAppearance Appearance, int PaintedArea, VisibleMask Visible)
{
    /// <summary>Visible enough to annotate (before any split rule): enough pixels and enough of its own area.</summary>
    public bool IsVisibleEnough { get; init; }
}

/// <summary>A scene as left in a <see cref="SceneSurface"/>: valid until the surface renders the next scene.</summary>
internal sealed record RenderedScene(SceneSurface Surface, bool IsCrop, IReadOnlyList<RenderedInstance> Instances);
