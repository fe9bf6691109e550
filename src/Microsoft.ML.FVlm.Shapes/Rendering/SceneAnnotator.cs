namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// The split rules: which instances are annotated and the LVIS image-level lists.
/// <list type="bullet">
/// <item>An instance is annotated when it is visible enough (<see cref="ShapesOptions.MinVisiblePixels"/>,
/// <see cref="ShapesOptions.MinVisibleFraction"/>); in <c>train-base</c> novel (rare) instances never are.</item>
/// <item><c>not_exhaustive_category_ids</c>: categories with at least one visible pixel in the image and at
/// least one instance left unannotated because it is too occluded.</item>
/// <item><c>neg_category_ids</c>: every category with no visible pixel in the image (all of them, not a sample).</item>
/// <item>In <c>train-base</c> novel categories appear in neither list, as if the world had no such names:
/// the detector learns nothing about them, not even where they are absent.</item>
/// </list>
/// </summary>
internal static class SceneAnnotator
{
    public static bool IsAnnotated(RenderedInstance instance, ShapesSplit split) =>
        instance.IsVisibleEnough && !(split == ShapesSplit.TrainBase && instance.Category.IsNovel);

    public static (List<long> Negative, List<long> NotExhaustive) ImageLists(IReadOnlyList<RenderedInstance> instances, ShapesSplit split)
    {
        var categories = ShapesWorld.Categories;
        var present = new bool[categories.Count + 1];
        var incomplete = new bool[categories.Count + 1];
        foreach (var instance in instances)
        {
            if (instance.Visible.Area == 0)
                continue;
            present[instance.Category.Id] = true;
            if (!instance.IsVisibleEnough)
                incomplete[instance.Category.Id] = true;
        }
        var negative = new List<long>();
        var notExhaustive = new List<long>();
        foreach (var category in categories)
        {
            if (split == ShapesSplit.TrainBase && category.IsNovel)
                continue;
            if (!present[category.Id])
                negative.Add(category.Id);
            else if (incomplete[category.Id])
                notExhaustive.Add(category.Id);
        }
        return (negative, notExhaustive);
    }
}
