using System.Diagnostics;
using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Checks a ground truth and its results before anything is grouped or rasterised, with pycocotools' verdict on
/// each problem: an <see cref="InvalidDataException"/> where pycocotools fails, a warning
/// (<see cref="Trace.TraceWarning(string)"/>) where it silently leaves something out. Messages name the file each
/// came from (<see cref="CocoSources"/>), the entry, its ids, the field and what was expected.
/// </summary>
internal static class CocoInputCheck
{
    private const int IdsNamed = 5;

    public static void Check(CocoDataset groundTruth, IReadOnlyList<CocoAnnotation> detections)
    {
        string groundTruthName = CocoSources.NameOf(groundTruth, "the ground truth");
        string detectionsName = CocoSources.NameOf(detections, "detections");
        var images = groundTruth.Images.Select(image => image.Id).ToHashSet();
        var categories = groundTruth.Categories.Select(category => category.Id).ToHashSet();

        var unknownCategories = new SortedSet<long>();
        int unknownCategoryCount = 0;
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            // pycocotools' loadRes and lvis-api's LVISResults assert that the results' image ids are the ground truth's.
            if (!images.Contains(d.ImageId))
                throw new InvalidDataException(
                    $"{detectionsName}: [{i}].image_id: {d.ImageId} is not the id of an image in {groundTruthName}; every result must be on one of its images.");
            // Neither checks category ids: COCOeval._prepare and LVISEval._prepare select results by the ground
            // truth's categories (getAnnIds / get_ann_ids with catIds), so the others drop out without a word.
            if (!categories.Contains(d.CategoryId))
            {
                unknownCategoryCount++;
                unknownCategories.Add(d.CategoryId);
            }
        }
        if (unknownCategoryCount > 0)
        {
            string ids = string.Join(", ", unknownCategories.Take(IdsNamed)) + (unknownCategories.Count > IdsNamed ? ", ..." : "");
            Trace.TraceWarning(
                $"{detectionsName}: {unknownCategoryCount} of {detections.Count} results {(unknownCategoryCount == 1 ? "has" : "have")} a category_id that is not a category of "
                + $"{groundTruthName} ({ids}); they are left out of the evaluation, as pycocotools and lvis-api leave them out.");
        }
    }
}
