namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// The Shapes VLM: a small CLIP pretrained on the Shapes world's captions (docs/shapes-vlm.md),
/// shipped with this package as content in the <c>Vlm</c> folder next to the application.
/// </summary>
public static class ShapesVlm
{
    /// <summary>The folder of the shipped Shapes VLM (<c>Vlm/</c> beside the application's assemblies).</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Vlm");
}
