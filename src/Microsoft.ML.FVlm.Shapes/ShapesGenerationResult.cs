namespace Microsoft.ML.FVlm.Shapes;

/// <summary>What <see cref="ShapesGenerator.Generate"/> wrote.</summary>
public sealed class ShapesGenerationResult
{
    internal ShapesGenerationResult(string annotationFile, string imageFolder, int imageCount, int annotationCount)
    {
        AnnotationFile = annotationFile;
        ImageFolder = imageFolder;
        ImageCount = imageCount;
        AnnotationCount = annotationCount;
    }

    /// <summary>Full path of the COCO / LVIS JSON file.</summary>
    public string AnnotationFile { get; }

    /// <summary>Full path of the folder holding the PNG files.</summary>
    public string ImageFolder { get; }

    /// <summary>Images written.</summary>
    public int ImageCount { get; }

    /// <summary>Annotations written.</summary>
    public int AnnotationCount { get; }
}
