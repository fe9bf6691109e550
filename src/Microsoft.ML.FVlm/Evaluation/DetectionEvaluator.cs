namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// The evaluation pipeline on plain records: group (<see cref="EvaluationSetBuilder"/>), match in parallel
/// (<see cref="MatchingEngine"/>), accumulate, summarize (<see cref="FigureBuilder"/>).
/// </summary>
internal static class DetectionEvaluator
{
    /// <summary>Everything an evaluation reads, independent of file formats.</summary>
    internal sealed class Input
    {
        public required IReadOnlyList<long> ImageIds { get; init; }

        public required IReadOnlyList<long> CategoryIds { get; init; }

        public required GroundTruthRecord[] GroundTruth { get; init; }

        public required DetectionRecord[] Detections { get; init; }

        /// <summary>LVIS label lists (required for LVIS).</summary>
        public FederatedLabels? Federated { get; init; }

        /// <summary>LVIS frequency ("r", "c", "f") per category id (required for LVIS).</summary>
        public IReadOnlyDictionary<long, string?>? Frequencies { get; init; }

        /// <summary>Builds the IoU computer once the set is grouped (it maps grouped positions to the caller's lists).</summary>
        public required Func<EvaluationSet, IOverlapComputer> CreateOverlap { get; init; }
    }

    public static DetectionMetrics Evaluate(EvaluationParameters parameters, DetectionIouType iouType, Input input, IReadOnlyCollection<long>? novelCategoryIds)
    {
        var set = EvaluationSetBuilder.Build(parameters, input.ImageIds, input.CategoryIds, input.GroundTruth, input.Detections, input.Federated);
        string?[]? frequencies = null;
        if (parameters.IsLvis)
        {
            frequencies = new string?[set.CategoryCount];
            for (int k = 0; k < set.CategoryCount; k++)
            {
                string? frequency = null;
                input.Frequencies?.TryGetValue(set.CategoryIds[k], out frequency);
                if (frequency is not ("r" or "c" or "f"))
                    throw new InvalidDataException(
                        $"LVIS evaluation: category {set.CategoryIds[k]} has frequency '{frequency ?? "(missing)"}'; expected \"r\", \"c\" or \"f\" in categories[].frequency.");
                frequencies[k] = frequency;
            }
        }
        var (precision, recall) = MatchingEngine.Evaluate(parameters, set, input.CreateOverlap(set));
        return FigureBuilder.Build(parameters, iouType, set, precision, recall, frequencies, novelCategoryIds);
    }

    /// <summary>Box IoU for grouped positions, from [x, y, w, h] boxes listed in the caller's order.</summary>
    public static IOverlapComputer BoxOverlapFor(EvaluationSet set, IReadOnlyList<double[]> groundTruthBoxes, IReadOnlyList<double[]> detectionBoxes)
    {
        var gt = new double[set.GroundTruthCount * 4];
        for (int i = 0; i < set.GroundTruthCount; i++)
            groundTruthBoxes[set.GroundTruthSource[i]].AsSpan(0, 4).CopyTo(gt.AsSpan(i * 4));
        var dt = new double[set.DetectionCount * 4];
        for (int i = 0; i < set.DetectionCount; i++)
            detectionBoxes[set.DetectionSource[i]].AsSpan(0, 4).CopyTo(dt.AsSpan(i * 4));
        return new BoxOverlap(dt, gt);
    }

    /// <summary>Mask IoU for grouped positions, from masks listed in the caller's order.</summary>
    public static IOverlapComputer MaskOverlapFor(EvaluationSet set, IReadOnlyList<Data.RleMask> groundTruthMasks, IReadOnlyList<Data.RleMask> detectionMasks)
    {
        var gt = new Data.RleMask[set.GroundTruthCount];
        for (int i = 0; i < gt.Length; i++)
            gt[i] = groundTruthMasks[set.GroundTruthSource[i]];
        var dt = new Data.RleMask[set.DetectionCount];
        for (int i = 0; i < dt.Length; i++)
            dt[i] = detectionMasks[set.DetectionSource[i]];
        return new MaskOverlap(dt, gt);
    }
}
