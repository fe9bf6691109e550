namespace Microsoft.ML.FVlm;

/// <summary>A progress report of <see cref="FVlmEstimator.Fit"/> (<see cref="FVlmEstimator.Progress"/>), once per training step.</summary>
/// <param name="Step">Steps done (1-based).</param>
/// <param name="Steps">Steps in all.</param>
/// <param name="Losses">The step's named losses, unweighted, and "total": their sum with the mask loss weighted by <see cref="FVlmOptions.MaskLossWeight"/>.</param>
/// <param name="ImagesPerSecond">Throughput since the start (or resume).</param>
/// <param name="Remaining">Estimated time left.</param>
/// <param name="CacheHitRate">Share of images whose frozen features came from the cache.</param>
/// <param name="GradientNorm">The step's global gradient L2 norm before clipping.</param>
public sealed record TrainingProgress(int Step, int Steps, IReadOnlyDictionary<string, float> Losses, double ImagesPerSecond, TimeSpan Remaining, double CacheHitRate,
    double GradientNorm = double.NaN);
