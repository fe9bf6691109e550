using Microsoft.ML.Data;

namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// A lazy <see cref="IDataView"/> over a <see cref="CocoDataset"/>: one row per image, the annotation
/// columns described in <see cref="CocoCatalog.LoadFromCocoJson"/> except <c>Image</c> (added by
/// <c>LoadImages</c>). Per-image boxes, labels and crowd flags are gathered once; masks are
/// rasterised and compressed when their getter is called.
/// </summary>
internal sealed class CocoDataView : IDataView
{
    internal readonly CocoImage[] Images;
    internal readonly string[] ImagePaths;
    internal readonly CocoAnnotation[][] Instances; // per row, the kept annotations in file order
    internal readonly uint[][] Labels;              // per row, 1-based keys

    public CocoDataView(CocoDataset dataset, string imageFolder, CocoLoaderOptions options)
    {
        CocoDatasetValidator.RequireFileNames(dataset);
        CocoCategory[] categories = SelectCategories(dataset, options);
        var keyOfCategory = new Dictionary<long, uint>(categories.Length);
        for (int i = 0; i < categories.Length; i++)
            keyOfCategory[categories[i].Id] = (uint)(i + 1);

        var byImage = new Dictionary<long, List<CocoAnnotation>>();
        foreach (CocoAnnotation annotation in dataset.Annotations)
        {
            if (!keyOfCategory.ContainsKey(annotation.CategoryId) || (annotation.IsCrowd != 0 && !options.IncludeCrowd))
                continue;
            if (!byImage.TryGetValue(annotation.ImageId, out List<CocoAnnotation>? list))
                byImage[annotation.ImageId] = list = [];
            list.Add(annotation);
        }

        var images = new List<CocoImage>(dataset.Images.Count);
        var instances = new List<CocoAnnotation[]>(dataset.Images.Count);
        foreach (CocoImage image in dataset.Images)
        {
            CocoAnnotation[] kept = byImage.TryGetValue(image.Id, out List<CocoAnnotation>? list) ? list.ToArray() : [];
            if (kept.Length == 0 && !options.IncludeImagesWithoutAnnotations)
                continue;
            images.Add(image);
            instances.Add(kept);
        }
        Images = images.ToArray();
        Instances = instances.ToArray();
        ImagePaths = new string[Images.Length];
        Labels = new uint[Images.Length][];
        for (int row = 0; row < Images.Length; row++)
        {
            ImagePaths[row] = Path.GetFullPath(Path.Combine(imageFolder, Images[row].FileName));
            uint[] labels = new uint[Instances[row].Length];
            for (int i = 0; i < labels.Length; i++)
                labels[i] = keyOfCategory[Instances[row][i].CategoryId];
            Labels[row] = labels;
        }
        Schema = BuildSchema(categories);
    }

    public bool CanShuffle => true;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => Images.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var active = new bool[Schema.Count];
        foreach (DataViewSchema.Column column in columnsNeeded)
            active[column.Index] = true;
        int[] order = new int[Images.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        if (rand is not null)
            rand.Shuffle(order);
        return new CocoRowCursor(this, active, order);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static CocoCategory[] SelectCategories(CocoDataset dataset, CocoLoaderOptions options)
    {
        IEnumerable<CocoCategory> chosen = dataset.Categories;
        if (options.CategoryIds is not null)
        {
            var known = new HashSet<long>();
            foreach (CocoCategory category in dataset.Categories)
                known.Add(category.Id);
            foreach (long id in options.CategoryIds)
            {
                if (!known.Contains(id))
                    throw new ArgumentException(
                        $"CocoLoaderOptions.CategoryIds contains {id}, which is not a category id of the dataset.", nameof(options));
            }
            var wanted = new HashSet<long>(options.CategoryIds);
            chosen = dataset.Categories.Where(c => wanted.Contains(c.Id));
        }
        CocoCategory[] result = chosen.OrderBy(c => c.Id).ToArray();
        if (result.Length == 0)
            throw new ArgumentException("The dataset has no categories to load (the Label key type needs at least one).", nameof(options));
        return result;
    }

    private static DataViewSchema BuildSchema(CocoCategory[] categories)
    {
        var names = new ReadOnlyMemory<char>[categories.Length];
        for (int i = 0; i < names.Length; i++)
            names[i] = categories[i].Name.AsMemory();
        var keyValues = new DataViewSchema.Annotations.Builder();
        // "KeyValues" is ML.NET's annotation kind for key names (AnnotationUtils.Kinds.KeyValues).
        keyValues.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, names.Length),
            (ref VBuffer<ReadOnlyMemory<char>> value) => value = new VBuffer<ReadOnlyMemory<char>>(names.Length, (ReadOnlyMemory<char>[])names.Clone()));

        var builder = new DataViewSchema.Builder();
        builder.AddColumn(CocoColumnNames.ImageId, NumberDataViewType.Int64);
        builder.AddColumn(CocoColumnNames.ImagePath, TextDataViewType.Instance);
        builder.AddColumn(CocoColumnNames.ImageWidth, NumberDataViewType.Int32);
        builder.AddColumn(CocoColumnNames.ImageHeight, NumberDataViewType.Int32);
        builder.AddColumn(CocoColumnNames.Label, new VectorDataViewType(new KeyDataViewType(typeof(uint), categories.Length)),
            keyValues.ToAnnotations());
        builder.AddColumn(CocoColumnNames.BoundingBoxes, new VectorDataViewType(NumberDataViewType.Single));
        builder.AddColumn(CocoColumnNames.Masks, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(CocoColumnNames.IsCrowd, new VectorDataViewType(BooleanDataViewType.Instance));
        return builder.ToSchema();
    }
}
