namespace Microsoft.ML.FVlm.Data;

/// <summary>Cross-checks a dataset after reading, and fills an absent annotation area.</summary>
internal static class CocoDatasetValidator
{
    /// <summary>
    /// Checks that every image has a file name, for what reads the image files (the data view, training,
    /// inference over a dataset). Evaluation reads none, so the reader does not insist.
    /// </summary>
    /// <exception cref="CocoFormatException">An image has no <c>file_name</c> (nor <c>coco_url</c>).</exception>
    public static void RequireFileNames(CocoDataset dataset)
    {
        for (int i = 0; i < dataset.Images.Count; i++)
        {
            if (string.IsNullOrEmpty(dataset.Images[i].FileName))
                throw new CocoFormatException(CocoSources.NameOf(dataset, "the dataset"), $"images[{i}].file_name",
                    $"missing required field (and no coco_url to take it from): reading image {dataset.Images[i].Id} needs its file name, relative to the image folder");
        }
    }

    public static void Validate(CocoDataset dataset, string sourceName)
    {
        var images = new Dictionary<long, CocoImage>(dataset.Images.Count);
        for (int i = 0; i < dataset.Images.Count; i++)
        {
            CocoImage image = dataset.Images[i];
            if (!images.TryAdd(image.Id, image))
                throw new CocoFormatException(sourceName, $"images[{i}].id", $"image id {image.Id} appears twice");
        }
        var categories = new HashSet<long>();
        for (int i = 0; i < dataset.Categories.Count; i++)
        {
            if (!categories.Add(dataset.Categories[i].Id))
                throw new CocoFormatException(sourceName, $"categories[{i}].id", $"category id {dataset.Categories[i].Id} appears twice");
        }
        var annotationIds = new HashSet<long>(dataset.Annotations.Count);
        for (int i = 0; i < dataset.Annotations.Count; i++)
        {
            CocoAnnotation annotation = dataset.Annotations[i];
            if (!annotationIds.Add(annotation.Id))
                throw new CocoFormatException(sourceName, $"annotations[{i}].id", $"annotation id {annotation.Id} appears twice");
            if (!images.TryGetValue(annotation.ImageId, out CocoImage? image))
                throw new CocoFormatException(sourceName, $"annotations[{i}].image_id", $"{annotation.ImageId} is not the id of an image in the file");
            if (!categories.Contains(annotation.CategoryId))
                throw new CocoFormatException(sourceName, $"annotations[{i}].category_id", $"{annotation.CategoryId} is not the id of a category in the file");
            if (annotation.Segmentation?.Rle is RleMask rle && (rle.Height != image.Height || rle.Width != image.Width))
                throw new CocoFormatException(sourceName, $"annotations[{i}].segmentation.size",
                    $"[{rle.Height}, {rle.Width}] differs from the image's height and width [{image.Height}, {image.Width}]");
            if (double.IsNaN(annotation.Area))
            {
                annotation.Area = annotation.Segmentation is { } segmentation
                    ? CocoMask.Area(segmentation.ToRle(image.Height, image.Width))
                    : annotation.Bbox[2] * annotation.Bbox[3];
            }
        }
    }
}
