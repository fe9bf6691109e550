namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// Averages accumulated precision / recall into the summary figures of pycocotools' <c>summarize</c> and
/// lvis-api's <c>summarize</c>: the mean of the selected entries greater than -1, or -1 when there are none.
/// </summary>
internal sealed class MetricsSummarizer
{
    private readonly EvaluationParameters _parameters;
    private readonly double[] _precision;
    private readonly double[] _recall;
    private readonly int _categoryCount;

    /// <summary>Summaries of <paramref name="precision"/> [T, R, K, A, M] and <paramref name="recall"/> [T, K, A, M], C order.</summary>
    public MetricsSummarizer(EvaluationParameters parameters, double[] precision, double[] recall, int categoryCount)
    {
        _parameters = parameters;
        _precision = precision;
        _recall = recall;
        _categoryCount = categoryCount;
    }

    /// <summary>
    /// Mean precision over thresholds (all, or the one equal to <paramref name="iouThreshold"/>), recall points and
    /// <paramref name="categories"/> (indices in ascending order, or null for all).
    /// </summary>
    public double AveragePrecision(double? iouThreshold = null, int area = 0, int maxDetections = -1, IReadOnlyList<int>? categories = null)
    {
        var p = _parameters;
        int m = maxDetections < 0 ? p.MaxDetections.Length - 1 : maxDetections;
        int recallCount = p.RecallThresholds.Length, areaCount = p.AreaRangeCount, mCount = p.MaxDetections.Length;
        var selected = new List<double>();
        foreach (int t in Thresholds(iouThreshold))
        {
            for (int r = 0; r < recallCount; r++)
            {
                int categoryListCount = categories?.Count ?? _categoryCount;
                for (int c = 0; c < categoryListCount; c++)
                {
                    int k = categories is null ? c : categories[c];
                    double value = _precision[(((t * recallCount + r) * _categoryCount + k) * areaCount + area) * mCount + m];
                    if (value > -1)
                        selected.Add(value);
                }
            }
        }
        return MeanOrMinusOne(selected);
    }

    /// <summary>Mean of the final recall over thresholds and categories.</summary>
    public double AverageRecall(double? iouThreshold = null, int area = 0, int maxDetections = -1)
    {
        var p = _parameters;
        int m = maxDetections < 0 ? p.MaxDetections.Length - 1 : maxDetections;
        int areaCount = p.AreaRangeCount, mCount = p.MaxDetections.Length;
        var selected = new List<double>();
        foreach (int t in Thresholds(iouThreshold))
        {
            for (int k = 0; k < _categoryCount; k++)
            {
                double value = _recall[((t * _categoryCount + k) * areaCount + area) * mCount + m];
                if (value > -1)
                    selected.Add(value);
            }
        }
        return MeanOrMinusOne(selected);
    }

    private IEnumerable<int> Thresholds(double? iouThreshold)
    {
        if (iouThreshold is null)
        {
            for (int t = 0; t < _parameters.IouThresholdCount; t++)
                yield return t;
        }
        else
        {
            // The summaries select by exact equality with the linspace values (np.where(iouThr == p.iouThrs)).
            int t = _parameters.IndexOfIouThreshold(iouThreshold.Value);
            if (t >= 0)
                yield return t;
        }
    }

    private static double MeanOrMinusOne(List<double> values) =>
        values.Count == 0 ? -1 : NumPyMean.Mean(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values));
}
