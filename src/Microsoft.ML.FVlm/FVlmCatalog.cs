using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm;

/// <summary>The catalog entry of open-vocabulary detection: <c>mlContext.Transforms.DetectObjectsOpenVocabulary(...)</c>.</summary>
public static class FVlmCatalog
{
    /// <summary>
    /// Open-vocabulary object detection and instance segmentation (F-VLM): trains a detector head on
    /// a frozen vision-language model's features with the base classes of <paramref name="labelColumnName"/>,
    /// and detects those and any free-text class (<paramref name="novelClassNames"/>, or later
    /// <see cref="FVlmTransformer.WithVocabulary"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="vlmFolder">Folder of the frozen VLM (an exported CLIP, or the Shapes VLM).</param>
    /// <param name="labelColumnName">Variable-length key vector, one key per instance; key values are the class names.</param>
    /// <param name="boundingBoxColumnName">Variable-length float vector, 4 per instance: x0 y0 x1 y1 in pixels.</param>
    /// <param name="imageColumnName">Images (<c>MLImage</c>).</param>
    /// <param name="novelClassNames">Extra classes to detect, never annotated.</param>
    /// <param name="steps">Training steps.</param>
    /// <param name="imageSize">Longest image side on the encoder's canvas, a multiple of 32.</param>
    public static FVlmEstimator DetectObjectsOpenVocabulary(this TransformsCatalog catalog, string vlmFolder,
        string labelColumnName = "Label", string boundingBoxColumnName = "BoundingBoxes", string imageColumnName = "Image",
        IEnumerable<string>? novelClassNames = null, int steps = FVlmOptions.DefaultSteps, int imageSize = FVlmOptions.DefaultImageSize) =>
        DetectObjectsOpenVocabulary(catalog, new FVlmOptions
        {
            VlmFolder = vlmFolder,
            LabelColumnName = labelColumnName,
            BoundingBoxColumnName = boundingBoxColumnName,
            ImageColumnName = imageColumnName,
            NovelClassNames = novelClassNames?.ToArray() ?? [],
            Steps = steps,
            ImageSize = imageSize,
        });

    /// <summary>Open-vocabulary object detection and instance segmentation (F-VLM) with every option.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Columns, the frozen VLM, training and inference options.</param>
    public static FVlmEstimator DetectObjectsOpenVocabulary(this TransformsCatalog catalog, FVlmOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FVlmEstimator(MLNetEnvironment.Of(catalog), options);
    }
}
