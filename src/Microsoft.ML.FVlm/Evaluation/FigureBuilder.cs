namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Names and computes the summary figures of a COCO or LVIS evaluation (pycocotools / lvis-api <c>summarize</c>).</summary>
internal static class FigureBuilder
{
    private const int All = 0, Small = 1, Medium = 2, Large = 3;

    /// <summary>
    /// The figures of an evaluation. <paramref name="frequencies"/>: LVIS frequency ("r", "c", "f") per category
    /// index. <paramref name="novelCategoryIds"/>: category ids of the novel split, or null.
    /// </summary>
    public static DetectionMetrics Build(EvaluationParameters parameters, DetectionIouType iouType, EvaluationSet set,
        double[] precision, double[] recall, IReadOnlyList<string?>? frequencies, IReadOnlyCollection<long>? novelCategoryIds)
    {
        var s = new MetricsSummarizer(parameters, precision, recall, set.CategoryCount);
        var figures = new List<KeyValuePair<string, double>>
        {
            new("AP", s.AveragePrecision()),
            new("AP50", s.AveragePrecision(iouThreshold: 0.5)),
            new("AP75", s.AveragePrecision(iouThreshold: 0.75)),
            new("APs", s.AveragePrecision(area: Small)),
            new("APm", s.AveragePrecision(area: Medium)),
            new("APl", s.AveragePrecision(area: Large)),
        };
        if (!parameters.IsLvis)
        {
            figures.Add(new("AR1", s.AverageRecall(maxDetections: 0)));
            figures.Add(new("AR10", s.AverageRecall(maxDetections: 1)));
            figures.Add(new("AR100", s.AverageRecall(maxDetections: 2)));
            figures.Add(new("ARs", s.AverageRecall(area: Small)));
            figures.Add(new("ARm", s.AverageRecall(area: Medium)));
            figures.Add(new("ARl", s.AverageRecall(area: Large)));
        }
        else
        {
            foreach (string group in (string[])["r", "c", "f"])
                figures.Add(new("AP" + group, s.AveragePrecision(categories: CategoriesWhere(set, k => frequencies![k] == group))));
            string limit = "@" + parameters.LvisMaxDetectionsPerImage;
            figures.Add(new("AR" + limit, s.AverageRecall()));
            figures.Add(new("ARs" + limit, s.AverageRecall(area: Small)));
            figures.Add(new("ARm" + limit, s.AverageRecall(area: Medium)));
            figures.Add(new("ARl" + limit, s.AverageRecall(area: Large)));
        }
        if (novelCategoryIds is not null)
        {
            var novel = new HashSet<long>(novelCategoryIds);
            var novelIndices = CategoriesWhere(set, k => novel.Contains(set.CategoryIds[k]));
            var baseIndices = CategoriesWhere(set, k => !novel.Contains(set.CategoryIds[k]));
            figures.Add(new("APnovel", s.AveragePrecision(categories: novelIndices)));
            figures.Add(new("APbase", s.AveragePrecision(categories: baseIndices)));
            figures.Add(new("AP50novel", s.AveragePrecision(iouThreshold: 0.5, categories: novelIndices)));
            figures.Add(new("AP50base", s.AveragePrecision(iouThreshold: 0.5, categories: baseIndices)));
        }

        var perCategory = new Dictionary<long, double>(set.CategoryCount);
        for (int k = 0; k < set.CategoryCount; k++)
            perCategory[set.CategoryIds[k]] = s.AveragePrecision(area: All, categories: [k]);
        var protocol = parameters.IsLvis ? DetectionEvaluationProtocol.Lvis : DetectionEvaluationProtocol.Coco;
        return new DetectionMetrics(iouType, protocol, figures, perCategory);
    }

    private static List<int> CategoriesWhere(EvaluationSet set, Func<int, bool> predicate)
    {
        var list = new List<int>();
        for (int k = 0; k < set.CategoryCount; k++)
        {
            if (predicate(k))
                list.Add(k);
        }
        return list;
    }
}
