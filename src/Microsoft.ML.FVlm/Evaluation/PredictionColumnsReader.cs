using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Reads the detector's output columns (one row per image) into COCO results: one <see cref="CocoAnnotation"/>
/// per detection with <c>image_id</c>, <c>category_id</c>, <c>bbox</c> [x, y, w, h], <c>score</c> and, when the
/// mask column is there, a compressed-RLE <c>segmentation</c>. Labels are matched to ground-truth categories by name.
/// </summary>
internal static class PredictionColumnsReader
{
    private const string KeyValuesKind = "KeyValues"; // ML.NET's annotation kind for the names of a key type

    public static List<CocoAnnotation> Read(IDataView predictions, CocoDataset groundTruth, DetectionEvaluationOptions options, bool requireMasks)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(groundTruth);
        var schema = predictions.Schema;
        var imageIdColumn = Find(schema, options.ImageIdColumnName, nameof(options.ImageIdColumnName));
        var labelColumn = Find(schema, options.PredictedLabelColumnName, nameof(options.PredictedLabelColumnName));
        var scoreColumn = Find(schema, options.ScoreColumnName, nameof(options.ScoreColumnName));
        var boxColumn = Find(schema, options.PredictedBoundingBoxesColumnName, nameof(options.PredictedBoundingBoxesColumnName));
        DataViewSchema.Column? maskColumn = schema.GetColumnOrNull(options.PredictedMasksColumnName);
        if (maskColumn is null && requireMasks)
            throw new ArgumentException($"Segmentation evaluation needs the mask column '{options.PredictedMasksColumnName}' (variable-length text vector of COCO compressed RLE strings); the data has no such column.");

        CheckVector(labelColumn, item => item is KeyDataViewType, "a vector of keys");
        CheckVector(scoreColumn, item => item == NumberDataViewType.Single, "a vector of Single");
        CheckVector(boxColumn, item => item == NumberDataViewType.Single, "a vector of Single");
        if (maskColumn is { } masks)
            CheckVector(masks, item => item is TextDataViewType, "a vector of text");
        long?[] categoryOfKey = CategoriesOfKeys(labelColumn, groundTruth);
        var imageSizes = new Dictionary<long, (int Height, int Width)>();
        foreach (var image in groundTruth.Images)
            imageSizes[image.Id] = (image.Height, image.Width);

        var columns = new List<DataViewSchema.Column> { imageIdColumn, labelColumn, scoreColumn, boxColumn };
        if (maskColumn is { } m)
            columns.Add(m);
        var results = new List<CocoAnnotation>();
        using var cursor = predictions.GetRowCursor(columns);
        var getImageId = ImageIdGetter(cursor, imageIdColumn);
        var getLabels = cursor.GetGetter<VBuffer<uint>>(labelColumn);
        var getScores = cursor.GetGetter<VBuffer<float>>(scoreColumn);
        var getBoxes = cursor.GetGetter<VBuffer<float>>(boxColumn);
        var getMasks = maskColumn is { } mc ? cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(mc) : null;
        VBuffer<uint> labels = default;
        VBuffer<float> scores = default, boxes = default;
        VBuffer<ReadOnlyMemory<char>> maskStrings = default;
        while (cursor.MoveNext())
        {
            long imageId = 0;
            getImageId(ref imageId);
            getLabels(ref labels);
            getScores(ref scores);
            getBoxes(ref boxes);
            getMasks?.Invoke(ref maskStrings);
            var labelValues = labels.DenseValues().ToArray();
            var scoreValues = scores.DenseValues().ToArray();
            var boxValues = boxes.DenseValues().ToArray();
            var maskValues = getMasks is null ? null : maskStrings.DenseValues().ToArray();
            int n = labelValues.Length;
            if (scoreValues.Length != n || boxValues.Length != 4 * n || (maskValues is not null && maskValues.Length != n))
                throw new InvalidDataException(
                    $"Image {imageId}: {n} labels in '{labelColumn.Name}' but {scoreValues.Length} scores in '{scoreColumn.Name}', " +
                    $"{boxValues.Length} box values in '{boxColumn.Name}' (expected {4 * n})" +
                    (maskValues is null ? "" : $" and {maskValues.Length} masks in '{options.PredictedMasksColumnName}'") + ".");
            if (!imageSizes.TryGetValue(imageId, out var size))
                throw new InvalidDataException($"Image id {imageId} in column '{imageIdColumn.Name}' is not an image of the ground truth.");
            for (int i = 0; i < n; i++)
            {
                uint key = labelValues[i];
                if (key == 0 || key > categoryOfKey.Length || categoryOfKey[key - 1] is not long categoryId)
                    continue; // a missing key, or a vocabulary entry the ground truth does not name
                double x0 = boxValues[4 * i], y0 = boxValues[4 * i + 1], x1 = boxValues[4 * i + 2], y1 = boxValues[4 * i + 3];
                var result = new CocoAnnotation
                {
                    ImageId = imageId,
                    CategoryId = categoryId,
                    Bbox = [x0, y0, x1 - x0, y1 - y0],
                    Score = scoreValues[i],
                };
                if (maskValues is not null)
                    result.Segmentation = CocoSegmentation.FromRle(CocoMask.FromCompressedString(maskValues[i].ToString(), size.Height, size.Width));
                results.Add(result);
            }
        }
        return results;
    }

    /// <summary>Ground-truth category id of each key (index key - 1), matched by name; null where the name is unknown.</summary>
    private static long?[] CategoriesOfKeys(DataViewSchema.Column labelColumn, CocoDataset groundTruth)
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        if (labelColumn.Annotations.Schema.GetColumnOrNull(KeyValuesKind) is null)
            throw new ArgumentException($"Column '{labelColumn.Name}' has no key values: its keys must carry the category names.");
        labelColumn.Annotations.GetValue(KeyValuesKind, ref names);
        var idOfName = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var category in groundTruth.Categories)
            idOfName.TryAdd(category.Name, category.Id);
        var values = names.DenseValues().ToArray();
        var result = new long?[values.Length];
        bool any = false;
        for (int k = 0; k < values.Length; k++)
        {
            if (idOfName.TryGetValue(values[k].ToString(), out long id))
            {
                result[k] = id;
                any = true;
            }
        }
        if (!any && values.Length > 0)
            throw new ArgumentException(
                $"None of the {values.Length} names of column '{labelColumn.Name}' (e.g. '{values[0]}') is a category name of the ground truth.");
        return result;
    }

    private static ValueGetter<long> ImageIdGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var type = column.Type;
        if (type == NumberDataViewType.Int64)
            return cursor.GetGetter<long>(column);
        if (type == NumberDataViewType.Int32)
            return Widen(cursor.GetGetter<int>(column), v => v);
        if (type == NumberDataViewType.UInt32)
            return Widen(cursor.GetGetter<uint>(column), v => v);
        if (type == NumberDataViewType.UInt64)
            return Widen(cursor.GetGetter<ulong>(column), v => checked((long)v));
        throw new ArgumentException($"Column '{column.Name}' must be Int32, Int64, UInt32 or UInt64 (an image id); it is {type}.");
    }

    private static ValueGetter<long> Widen<T>(ValueGetter<T> getter, Func<T, long> convert)
    {
        T value = default!;
        return (ref long destination) =>
        {
            getter(ref value);
            destination = convert(value);
        };
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string option) =>
        schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"The predictions have no column '{name}' (option {option}); columns: {string.Join(", ", schema.Select(c => c.Name))}.");

    private static void CheckVector(DataViewSchema.Column column, Func<DataViewType, bool> itemOk, string expected)
    {
        if (column.Type is not VectorDataViewType vector || !itemOk(vector.ItemType))
            throw new ArgumentException($"Column '{column.Name}' must be {expected}; it is {column.Type}.");
    }
}
