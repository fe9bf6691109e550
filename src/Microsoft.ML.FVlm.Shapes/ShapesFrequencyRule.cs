namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// The rule that defines the frequency groups by training-image count, LVIS v1's thresholds (rare: 1 to 10
/// images, common: 11 to 100, frequent: more) scaled from LVIS's absolute counts to a fraction of the split:
/// rare at most 1% of the training images, common at most 10%, frequent more than 10%. For tiny splits the
/// bounds are kept apart (rare at most 1 image, common at least one more than rare).
/// </summary>
/// <remarks>
/// <see cref="ShapesGenerator"/> meets the rule by construction: rare and common categories enter training
/// scenes only through per-category image quotas (0.5% and 4.5% of the images, spread over the split),
/// all other instances are drawn from the frequent categories. Counts are of images with at least one
/// annotation in <c>train-all</c>; the rule holds for splits of 100 images or more.
/// </remarks>
public static class ShapesFrequencyRule
{
    /// <summary>Most training images a rare category may have: <c>max(1, n / 100)</c>.</summary>
    public static int RareMaxImages(int trainingImages) => Math.Max(1, trainingImages / 100);

    /// <summary>Most training images a common category may have: <c>max(RareMaxImages + 1, n / 10)</c>.</summary>
    public static int CommonMaxImages(int trainingImages) => Math.Max(RareMaxImages(trainingImages) + 1, trainingImages / 10);

    /// <summary>The group that an image count puts a category in, for a split of <paramref name="trainingImages"/> images.</summary>
    public static ShapeFrequency Classify(int imageCount, int trainingImages) =>
        imageCount <= RareMaxImages(trainingImages) ? ShapeFrequency.Rare
        : imageCount <= CommonMaxImages(trainingImages) ? ShapeFrequency.Common
        : ShapeFrequency.Frequent;

    /// <summary>Images a rare category is planted in: <c>max(1, n / 200)</c>, half the rare bound.</summary>
    internal static int RareQuota(int trainingImages) => Math.Max(1, trainingImages / 200);

    /// <summary>Images a common category is planted in: 4.5% of the split, inside the common bounds.</summary>
    internal static int CommonQuota(int trainingImages) =>
        Math.Clamp((int)Math.Round(0.045 * trainingImages), RareMaxImages(trainingImages) + 1, CommonMaxImages(trainingImages));
}
