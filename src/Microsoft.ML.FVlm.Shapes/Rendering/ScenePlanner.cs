namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// Decides which categories a scene holds, in drawing order. Training scenes get their quota categories
/// (rare and common, see <see cref="ShapesFrequencyRule"/>) and are filled up with frequent ones; val and
/// captions scenes draw every category uniformly.
/// </summary>
internal sealed class ScenePlanner
{
    /// <summary>Random streams: both training splits share one, so they render the same images.</summary>
    public const ulong TrainStream = 1, ValStream = 2, CaptionsStream = 3, QuotaStream = 4;

    private static readonly IReadOnlyList<ShapesCategory> s_frequent = ShapesWorld.InGroup(ShapeFrequency.Frequent);
    private readonly ShapesOptions _options;
    private readonly List<ShapesCategory>[]? _quotas;

    public ScenePlanner(ShapesOptions options)
    {
        _options = options;
        if (options.Split.IsTraining())
            _quotas = PlanQuotas(options.ImageCount, options.Seed);
    }

    public ulong Stream => _options.Split switch
    {
        ShapesSplit.Val => ValStream,
        ShapesSplit.Captions => CaptionsStream,
        _ => TrainStream,
    };

    /// <summary>The quota categories planted in training image <paramref name="index"/> (none for other splits).</summary>
    public IReadOnlyList<ShapesCategory> Planted(int index) => _quotas is null ? [] : _quotas[index];

    /// <summary>The categories of image <paramref name="index"/>, drawn from its own generator.</summary>
    public List<ShapesCategory> Plan(int index, ShapesRandom random, out bool isCrop)
    {
        isCrop = _options.Split == ShapesSplit.Captions && random.Chance(_options.CropFraction);
        var all = ShapesWorld.Categories;
        if (isCrop)
            return [random.Pick(all)];

        int count = random.Next(_options.MinInstances, _options.MaxInstances + 1);
        if (_quotas is null)
            return Enumerable.Range(0, count).Select(_ => random.Pick(all)).ToList();

        var planted = _quotas[index];
        var categories = planted.Take(_options.MaxInstances).ToList();
        while (categories.Count < count)
            categories.Add(random.Pick(s_frequent));
        // Fisher-Yates: planted categories take random depths like the others.
        for (int i = categories.Count - 1; i > 0; i--)
        {
            int j = random.Next(0, i + 1);
            (categories[i], categories[j]) = (categories[j], categories[i]);
        }
        return categories;
    }

    /// <summary>
    /// Spreads every quota slot (category c, j-th image) over the split: slots ordered by (j, category) are
    /// laid evenly over a seeded permutation of the images, so each image gets at most ceil(slots / n) of
    /// them and one category's images are about n / quota apart (hence distinct).
    /// </summary>
    private static List<ShapesCategory>[] PlanQuotas(int imageCount, int seed)
    {
        var quota = ShapesWorld.Categories.ToDictionary(c => c, c => c.Frequency switch
        {
            ShapeFrequency.Rare => ShapesFrequencyRule.RareQuota(imageCount),
            ShapeFrequency.Common => ShapesFrequencyRule.CommonQuota(imageCount),
            _ => 0,
        });
        var slots = new List<ShapesCategory>();
        for (int j = 0, most = quota.Values.Max(); j < most; j++)
            slots.AddRange(ShapesWorld.Categories.Where(c => quota[c] > j));

        var random = ShapesRandom.For(seed, QuotaStream, imageCount);
        var permutation = Enumerable.Range(0, imageCount).ToArray();
        for (int i = imageCount - 1; i > 0; i--)
        {
            int j = random.Next(0, i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }

        var perImage = new List<ShapesCategory>[imageCount];
        for (int i = 0; i < imageCount; i++)
            perImage[i] = [];
        for (int t = 0; t < slots.Count; t++)
            perImage[permutation[(int)((long)t * imageCount / slots.Count)]].Add(slots[t]);
        return perImage;
    }
}
