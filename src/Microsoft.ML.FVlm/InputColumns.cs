using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm;

/// <summary>
/// The training input check shared by <see cref="FVlmEstimator.GetOutputSchema"/> and
/// <see cref="FVlmEstimator.Fit"/>, with errors in ML.NET's wording that name the column, the
/// expected type and the actual one.
/// </summary>
internal static class InputColumns
{
    public static void Check(SchemaShape input, FVlmOptions options)
    {
        var image = Find(input, "image", options.ImageColumnName);
        if (image.Kind != SchemaShape.Column.VectorKind.Scalar || image.ItemType is not ImageDataViewType)
            throw Mismatch("image", image, "Image");
        var label = Find(input, "label", options.LabelColumnName);
        if (label.Kind == SchemaShape.Column.VectorKind.Scalar || !label.IsKey)
            throw Mismatch("label", label, "vector of Key");
        if (Lookup(label.Annotations, SchemaShapeColumns.KeyValuesAnnotation) is not { ItemType: TextDataViewType })
            throw new ArgumentOutOfRangeException(nameof(input),
                $"Label column '{options.LabelColumnName}' needs key values (the class names) as text: map the category names to keys with MapValueToKey, or load with LoadFromCocoJson.");
        var boxes = Find(input, "bounding box", options.BoundingBoxColumnName);
        if (boxes.Kind == SchemaShape.Column.VectorKind.Scalar || boxes.ItemType != NumberDataViewType.Single)
            throw Mismatch("bounding box", boxes, "vector of Single");
        if (options.MaskColumnName is { } masksName && Lookup(input, masksName) is { } masks
            && (masks.Kind == SchemaShape.Column.VectorKind.Scalar || masks.ItemType is not TextDataViewType))
            throw Mismatch("mask", masks, "vector of String (COCO compressed RLE)");
    }

    /// <summary>The label column's key values: the base class names, in key order.</summary>
    public static IReadOnlyList<string> ClassNames(DataViewSchema schema, string labelColumnName)
    {
        var column = schema[labelColumnName];
        VBuffer<ReadOnlyMemory<char>> names = default;
        column.GetKeyValues(ref names);
        var result = names.DenseValues().Select(n => n.ToString()).ToArray();
        if (result.Length == 0)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Label column '{labelColumnName}' has no key values: at least one base class is needed.");
        return result;
    }

    private static SchemaShape.Column Find(SchemaShape input, string role, string name) =>
        Lookup(input, name) ?? throw new ArgumentOutOfRangeException(nameof(input), $"Could not find {role} column '{name}'");

    /// <summary>The column named <paramref name="name"/> (the last one, as a later column hides an earlier one), or null.</summary>
    private static SchemaShape.Column? Lookup(SchemaShape shape, string name)
    {
        SchemaShape.Column? found = null;
        foreach (var column in shape)
            if (column.Name == name) found = column;
        return found;
    }

    private static ArgumentOutOfRangeException Mismatch(string role, SchemaShape.Column column, string expected) =>
        new(nameof(SchemaShape), $"Schema mismatch for {role} column '{column.Name}': expected {expected}, got {Describe(column)}");

    private static string Describe(SchemaShape.Column column)
    {
        string item = column.IsKey ? "Key" : column.ItemType?.ToString() ?? "unknown";
        return column.Kind == SchemaShape.Column.VectorKind.Scalar ? item : $"vector of {item}";
    }
}
