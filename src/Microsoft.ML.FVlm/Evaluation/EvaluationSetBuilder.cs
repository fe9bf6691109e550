namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Groups ground truth and detections by (image, category) with the selection rules of pycocotools'
/// <c>COCOeval._prepare</c> / <c>loadRes</c> and of lvis-api's <c>LVISResults</c> / <c>LVISEval._prepare</c>.
/// </summary>
internal static class EvaluationSetBuilder
{
    /// <param name="parameters">COCO or LVIS settings.</param>
    /// <param name="imageIds">Every image of the ground truth (images without annotations count).</param>
    /// <param name="categoryIds">Every category of the ground truth (categories without annotations count).</param>
    /// <param name="groundTruth">Ground-truth annotations, in file order.</param>
    /// <param name="detections">Detections, in file order.</param>
    /// <param name="federated">LVIS label lists; required when <paramref name="parameters"/> is LVIS.</param>
    public static EvaluationSet Build(
        EvaluationParameters parameters,
        IReadOnlyList<long> imageIds,
        IReadOnlyList<long> categoryIds,
        ReadOnlySpan<GroundTruthRecord> groundTruth,
        ReadOnlySpan<DetectionRecord> detections,
        FederatedLabels? federated)
    {
        if (parameters.IsLvis && federated is null)
            throw new ArgumentException("LVIS evaluation needs the images' neg_category_ids and not_exhaustive_category_ids.", nameof(federated));

        long[] images = SortedDistinct(imageIds);
        long[] categories = SortedDistinct(categoryIds);
        var imageIndex = IndexOf(images);
        var categoryIndex = IndexOf(categories);
        long categoryCount = categories.Length;

        // Ground truth: keep annotations of known images and categories (getAnnIds(imgIds, catIds)).
        var gtKeys = new List<long>(groundTruth.Length);
        var gtSources = new List<int>(groundTruth.Length);
        var presentInImage = new HashSet<(long, long)>();
        for (int i = 0; i < groundTruth.Length; i++)
        {
            var g = groundTruth[i];
            if (!imageIndex.TryGetValue(g.ImageId, out int img) || !categoryIndex.TryGetValue(g.CategoryId, out int cat))
                continue;
            // lvis-api's get_ann_ids(cat_ids=...) keeps only 0 < area < inf: a zero-area annotation is not
            // evaluated and does not make its category present in the image.
            if (parameters.IsLvis && !HasLvisArea(g.Area))
                continue;
            gtKeys.Add(img * categoryCount + cat);
            gtSources.Add(i);
            presentInImage.Add((g.ImageId, g.CategoryId));
        }
        long[] gtKeyArray = [.. gtKeys];
        int[] gtOrder = [.. gtSources];
        SortByKeyStable(gtKeyArray, gtOrder);

        bool[] keepDetection = SelectDetections(parameters, detections, imageIndex);

        var dtKeys = new List<long>(detections.Length);
        var dtSources = new List<int>(detections.Length);
        for (int i = 0; i < detections.Length; i++)
        {
            if (!keepDetection[i])
                continue;
            var d = detections[i];
            if (!categoryIndex.TryGetValue(d.CategoryId, out int cat))
                continue;
            // Same area filter on the results (after the per-image limit): LVISResults gives a result with a
            // bbox the area w * h, so a zero-width or zero-height box is dropped rather than counted as a false positive.
            if (parameters.IsLvis && !HasLvisArea(d.Area))
                continue;
            // LVIS federated rule: a category neither annotated in the image nor verified absent is not judged there.
            if (parameters.IsLvis && !presentInImage.Contains((d.ImageId, d.CategoryId)) && !federated!.IsNegative(d.ImageId, d.CategoryId))
                continue;
            dtKeys.Add(imageIndex[d.ImageId] * categoryCount + cat);
            dtSources.Add(i);
        }
        long[] dtKeyArray = [.. dtKeys];
        int[] dtOrder = [.. dtSources];
        SortDetections(dtKeyArray, dtOrder, detections);

        return Assemble(parameters, images, categories, groundTruth, detections, gtKeyArray, gtOrder, dtKeyArray, dtOrder, federated);
    }

    /// <summary>lvis-api's <c>get_ann_ids</c> area test, <c>area &gt; 0 and area &lt; inf</c> (false for NaN).</summary>
    private static bool HasLvisArea(double area) => area > 0 && area < double.PositiveInfinity;

    /// <summary>
    /// Checks image ids and, for LVIS, keeps each image's top detections by score (ties: earlier first),
    /// over all categories, before any category filtering, as <c>LVISResults.limit_dets_per_image</c>.
    /// </summary>
    private static bool[] SelectDetections(EvaluationParameters parameters, ReadOnlySpan<DetectionRecord> detections, Dictionary<long, int> imageIndex)
    {
        var keep = new bool[detections.Length];
        var perImage = new Dictionary<long, List<int>>();
        for (int i = 0; i < detections.Length; i++)
        {
            var d = detections[i];
            if (!imageIndex.ContainsKey(d.ImageId))
                throw new InvalidDataException($"Detection {i} has image_id {d.ImageId}, which is not an image of the ground truth.");
            if (double.IsNaN(d.Score))
                throw new InvalidDataException($"Detection {i} (image_id {d.ImageId}) has a score that is not a number.");
            keep[i] = true;
            if (parameters.IsLvis)
            {
                if (!perImage.TryGetValue(d.ImageId, out var list))
                    perImage[d.ImageId] = list = [];
                list.Add(i);
            }
        }
        int limit = parameters.LvisMaxDetectionsPerImage;
        if (!parameters.IsLvis || limit < 0)
            return keep;
        var scoreArray = new double[detections.Length];
        for (int i = 0; i < detections.Length; i++)
            scoreArray[i] = detections[i].Score;
        foreach (var list in perImage.Values)
        {
            if (list.Count <= limit)
                continue;
            list.Sort((a, b) => scoreArray[a] != scoreArray[b] ? scoreArray[b].CompareTo(scoreArray[a]) : a.CompareTo(b));
            for (int k = limit; k < list.Count; k++)
                keep[list[k]] = false;
        }
        return keep;
    }

    private static EvaluationSet Assemble(
        EvaluationParameters parameters, long[] images, long[] categories,
        ReadOnlySpan<GroundTruthRecord> groundTruth, ReadOnlySpan<DetectionRecord> detections,
        long[] gtKeys, int[] gtOrder, long[] dtKeys, int[] dtOrder, FederatedLabels? federated)
    {
        int maxPerPair = parameters.MaxDetectionsPerImageCategory;
        var pairImage = new List<int>();
        var pairCategory = new List<int>();
        var gtStart = new List<int>();
        var gtCount = new List<int>();
        var dtStart = new List<int>();
        var dtCount = new List<int>();
        var notExhaustive = new List<bool>();
        var keptDetections = new List<int>(dtOrder.Length);
        long categoryCount = categories.Length;

        int gi = 0, di = 0;
        while (gi < gtKeys.Length || di < dtKeys.Length)
        {
            long key = Math.Min(gi < gtKeys.Length ? gtKeys[gi] : long.MaxValue, di < dtKeys.Length ? dtKeys[di] : long.MaxValue);
            int g0 = gi, d0 = di;
            while (gi < gtKeys.Length && gtKeys[gi] == key)
                gi++;
            while (di < dtKeys.Length && dtKeys[di] == key)
                di++;
            int image = (int)(key / categoryCount), category = (int)(key % categoryCount);
            pairImage.Add(image);
            pairCategory.Add(category);
            gtStart.Add(g0);
            gtCount.Add(gi - g0);
            dtStart.Add(keptDetections.Count);
            int kept = Math.Min(di - d0, maxPerPair);
            for (int k = 0; k < kept; k++)
                keptDetections.Add(dtOrder[d0 + k]);
            dtCount.Add(kept);
            notExhaustive.Add(federated is not null && federated.IsNotExhaustive(images[image], categories[category]));
        }

        var categoryPairs = new List<int>[categories.Length];
        for (int c = 0; c < categories.Length; c++)
            categoryPairs[c] = [];
        for (int p = 0; p < pairImage.Count; p++)
            categoryPairs[pairCategory[p]].Add(p);

        int gtTotal = gtOrder.Length, dtTotal = keptDetections.Count;
        var set = new EvaluationSet
        {
            ImageIds = images,
            CategoryIds = categories,
            PairImage = [.. pairImage],
            PairCategory = [.. pairCategory],
            PairGroundTruthStart = [.. gtStart],
            PairGroundTruthCount = [.. gtCount],
            PairDetectionStart = [.. dtStart],
            PairDetectionCount = [.. dtCount],
            PairNotExhaustive = [.. notExhaustive],
            CategoryPairs = [.. categoryPairs.Select(l => l.ToArray())],
            GroundTruthSource = gtOrder,
            GroundTruthId = new long[gtTotal],
            GroundTruthArea = new double[gtTotal],
            GroundTruthCrowd = new bool[gtTotal],
            GroundTruthIgnore = new bool[gtTotal],
            DetectionSource = [.. keptDetections],
            DetectionScore = new double[dtTotal],
            DetectionArea = new double[dtTotal],
        };
        for (int i = 0; i < gtTotal; i++)
        {
            var g = groundTruth[gtOrder[i]];
            set.GroundTruthId[i] = g.Id;
            set.GroundTruthArea[i] = g.Area;
            // lvis-api ignores iscrowd: no crowd IoU, no crowd ignore (its `ignore` field is absent from LVIS files).
            set.GroundTruthCrowd[i] = !parameters.IsLvis && g.IsCrowd;
            set.GroundTruthIgnore[i] = set.GroundTruthCrowd[i];
        }
        for (int i = 0; i < dtTotal; i++)
        {
            var d = detections[set.DetectionSource[i]];
            set.DetectionScore[i] = d.Score;
            set.DetectionArea[i] = d.Area;
        }
        return set;
    }

    private static long[] SortedDistinct(IReadOnlyList<long> ids)
    {
        var set = new SortedSet<long>(ids);
        return [.. set];
    }

    private static Dictionary<long, int> IndexOf(long[] sorted)
    {
        var index = new Dictionary<long, int>(sorted.Length);
        for (int i = 0; i < sorted.Length; i++)
            index[sorted[i]] = i;
        return index;
    }

    /// <summary>Sorts by key, ties in input order.</summary>
    private static void SortByKeyStable(long[] keys, int[] items)
    {
        var entries = new (long Key, int Position, int Item)[keys.Length];
        for (int i = 0; i < keys.Length; i++)
            entries[i] = (keys[i], i, items[i]);
        Array.Sort(entries);
        for (int i = 0; i < entries.Length; i++)
        {
            keys[i] = entries[i].Key;
            items[i] = entries[i].Item;
        }
    }

    /// <summary>Sorts by (pair, descending score, input position): the per-pair order of a stable argsort on -score.</summary>
    private static void SortDetections(long[] keys, int[] items, ReadOnlySpan<DetectionRecord> detections)
    {
        var entries = new (long Key, double NegativeScore, int Source)[keys.Length];
        for (int i = 0; i < keys.Length; i++)
            entries[i] = (keys[i], -detections[items[i]].Score, items[i]);
        Array.Sort(entries);
        for (int i = 0; i < entries.Length; i++)
        {
            keys[i] = entries[i].Key;
            items[i] = entries[i].Source;
        }
    }
}
