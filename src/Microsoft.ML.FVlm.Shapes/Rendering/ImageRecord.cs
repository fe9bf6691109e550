using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// What the JSON file says about one annotated instance. The mask is kept as its compressed RLE string
/// (a few hundred bytes), encoded on the worker thread, so a large split's records stay small.
/// </summary>
internal sealed record AnnotationRecord(ShapesCategory Category, string MaskCounts, int Area, double[] Box, ShapesColor Color, ShapeStyle Style, string Caption);

/// <summary>What the JSON file says about one image; small enough to keep for the whole split.</summary>
internal sealed record ImageRecord(int Index, string FileName, int Size, bool IsCrop, string Caption,
    IReadOnlyList<long> NegativeCategoryIds, IReadOnlyList<long> NotExhaustiveCategoryIds, IReadOnlyList<AnnotationRecord> Annotations)
{
    public static ImageRecord From(int index, string fileName, RenderedScene scene, ShapesSplit split)
    {
        var annotations = scene.Instances
            .Where(i => SceneAnnotator.IsAnnotated(i, split))
            .Select(i => new AnnotationRecord(i.Category, CocoMask.ToCompressedString(i.Visible.Mask), i.Visible.Area, i.Visible.Box, i.Appearance.Color,
                i.Appearance.Style, CaptionText.Object(i.Appearance.Color, i.Category)))
            .ToList();
        var (negative, notExhaustive) = SceneAnnotator.ImageLists(scene.Instances, split);
        string caption = CaptionText.Scene(annotations.Select(a => (a.Color, a.Category)));
        return new ImageRecord(index, fileName, scene.Surface.Size, scene.IsCrop, caption, negative, notExhaustive, annotations);
    }
}
