namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// A detector head trained on the Shapes world's <c>train-base</c> split on top of the Shapes VLM,
/// shipped with this package as an ML.NET model zip (docs/shapes-detector.md gives the
/// <c>fvlm train</c> command that produced it).
/// </summary>
public static class ShapesDetector
{
    /// <summary>The shipped model zip (<c>Detector/shapes-detector.zip</c> beside the application's assemblies).</summary>
    public static string ModelFile => Path.Combine(AppContext.BaseDirectory, "Detector", "shapes-detector.zip");
}
