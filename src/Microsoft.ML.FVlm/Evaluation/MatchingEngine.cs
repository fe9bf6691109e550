using System.Collections.Concurrent;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Runs matching on every (image, category) pair in parallel, then accumulation per category.</summary>
internal static class MatchingEngine
{
    /// <summary>Precision [T, R, K, A, M] and recall [T, K, A, M] of a prepared set.</summary>
    public static (double[] Precision, double[] Recall) Evaluate(EvaluationParameters parameters, EvaluationSet set, IOverlapComputer overlap)
    {
        int areaCount = parameters.AreaRangeCount;
        var outcomes = new byte[set.DetectionCount * areaCount * parameters.IouThresholdCount];
        var relevantGroundTruth = new int[set.PairCount * areaCount];
        if (set.PairCount > 0)
        {
            var ranges = Partitioner.Create(0, set.PairCount, Math.Max(64, set.PairCount / (8 * Environment.ProcessorCount)));
            Parallel.ForEach(ranges, () => new PairMatcher(parameters), (range, _, matcher) =>
            {
                for (int pair = range.Item1; pair < range.Item2; pair++)
                    matcher.Match(set, overlap, pair, outcomes, relevantGroundTruth);
                return matcher;
            }, _ => { });
        }
        new PrecisionAccumulator(parameters).Accumulate(set, outcomes, relevantGroundTruth, out var precision, out var recall);
        return (precision, recall);
    }
}
