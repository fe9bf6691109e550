namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// COCO / LVIS detection metrics: the figures pycocotools and lvis-api print for the same input. Values are
/// fractions in [0, 1]; a figure that is undefined for the input (no ground truth in its area range or category
/// group) is -1, as there.
/// </summary>
public sealed class DetectionMetrics
{
    internal DetectionMetrics(DetectionIouType iouType, DetectionEvaluationProtocol protocol,
        IReadOnlyList<KeyValuePair<string, double>> figures, IReadOnlyDictionary<long, double> perCategory)
    {
        IouType = iouType;
        Protocol = protocol;
        Figures = figures;
        PerCategoryAveragePrecision = perCategory;
        var byName = new Dictionary<string, double>();
        foreach (var (name, value) in figures)
            byName[name] = value;
        _byName = byName;
    }

    private readonly Dictionary<string, double> _byName;

    /// <summary>Boxes (<c>bbox</c>) or masks (<c>segm</c>).</summary>
    public DetectionIouType IouType { get; }

    /// <summary>COCO or LVIS rules.</summary>
    public DetectionEvaluationProtocol Protocol { get; }

    /// <summary>
    /// Every figure in print order, under its standard name. COCO: AP, AP50, AP75, APs, APm, APl, AR1, AR10,
    /// AR100, ARs, ARm, ARl. LVIS: AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300, ARm@300,
    /// ARl@300. With a novel-category split: APnovel, APbase, AP50novel, AP50base.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, double>> Figures { get; }

    /// <summary>AP@[0.50:0.95] per ground-truth category id (area all, largest detection limit); -1 without ground truth.</summary>
    public IReadOnlyDictionary<long, double> PerCategoryAveragePrecision { get; }

    /// <summary>AP averaged over IoU 0.50:0.05:0.95 (<c>AP</c>).</summary>
    public double AveragePrecision => _byName["AP"];

    /// <summary>AP at IoU 0.50 (<c>AP50</c>).</summary>
    public double AveragePrecision50 => _byName["AP50"];

    /// <summary>AP at IoU 0.75 (<c>AP75</c>).</summary>
    public double AveragePrecision75 => _byName["AP75"];

    /// <summary>AP on ground truth of area below 32² pixels (<c>APs</c>).</summary>
    public double AveragePrecisionSmall => _byName["APs"];

    /// <summary>AP on ground truth of area between 32² and 96² pixels (<c>APm</c>).</summary>
    public double AveragePrecisionMedium => _byName["APm"];

    /// <summary>AP on ground truth of area above 96² pixels (<c>APl</c>).</summary>
    public double AveragePrecisionLarge => _byName["APl"];

    /// <summary>AR at the largest detection limit: <c>AR100</c> (COCO) or <c>AR@300</c> (LVIS).</summary>
    public double AverageRecall => Protocol == DetectionEvaluationProtocol.Coco ? _byName["AR100"] : _byName[LvisRecallName("")];

    /// <summary>COCO: AR with one detection per image and category (<c>AR1</c>). Null for LVIS.</summary>
    public double? AverageRecall1 => Find("AR1");

    /// <summary>COCO: AR with ten detections per image and category (<c>AR10</c>). Null for LVIS.</summary>
    public double? AverageRecall10 => Find("AR10");

    /// <summary>AR on small ground truth at the largest detection limit (<c>ARs</c> / <c>ARs@300</c>).</summary>
    public double AverageRecallSmall => Protocol == DetectionEvaluationProtocol.Coco ? _byName["ARs"] : _byName[LvisRecallName("s")];

    /// <summary>AR on medium ground truth at the largest detection limit (<c>ARm</c> / <c>ARm@300</c>).</summary>
    public double AverageRecallMedium => Protocol == DetectionEvaluationProtocol.Coco ? _byName["ARm"] : _byName[LvisRecallName("m")];

    /// <summary>AR on large ground truth at the largest detection limit (<c>ARl</c> / <c>ARl@300</c>).</summary>
    public double AverageRecallLarge => Protocol == DetectionEvaluationProtocol.Coco ? _byName["ARl"] : _byName[LvisRecallName("l")];

    /// <summary>LVIS: AP over rare categories (<c>APr</c>, frequency "r"); the open-vocabulary headline. Null for COCO.</summary>
    public double? AveragePrecisionRare => Find("APr");

    /// <summary>LVIS: AP over common categories (<c>APc</c>). Null for COCO.</summary>
    public double? AveragePrecisionCommon => Find("APc");

    /// <summary>LVIS: AP over frequent categories (<c>APf</c>). Null for COCO.</summary>
    public double? AveragePrecisionFrequent => Find("APf");

    /// <summary>AP@[0.50:0.95] over the novel categories of the split (<c>APnovel</c>). Null without a split.</summary>
    public double? AveragePrecisionNovel => Find("APnovel");

    /// <summary>AP@[0.50:0.95] over the other (base) categories (<c>APbase</c>). Null without a split.</summary>
    public double? AveragePrecisionBase => Find("APbase");

    /// <summary>AP at IoU 0.50 over the novel categories (<c>AP50novel</c>; COCO open-vocabulary's "novel AP50"). Null without a split.</summary>
    public double? AveragePrecision50Novel => Find("AP50novel");

    /// <summary>AP at IoU 0.50 over the base categories (<c>AP50base</c>). Null without a split.</summary>
    public double? AveragePrecision50Base => Find("AP50base");

    /// <summary>A figure by its standard name (see <see cref="Figures"/>).</summary>
    public double this[string name] => _byName.TryGetValue(name, out double value)
        ? value
        : throw new KeyNotFoundException($"No figure named '{name}'; this evaluation has: {string.Join(", ", _byName.Keys)}.");

    private double? Find(string name) => _byName.TryGetValue(name, out double value) ? value : null;

    private string LvisRecallName(string area)
    {
        foreach (var (name, _) in Figures)
        {
            if (name.StartsWith("AR" + area + "@", StringComparison.Ordinal))
                return name;
        }
        throw new InvalidOperationException("LVIS metrics without an AR figure.");
    }
}
