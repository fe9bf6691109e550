namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// How the detector head is trained, built from the estimator's options by <see cref="FVlmOptionsValidator.Training"/>.
/// A setting the options set has no default here (<see cref="FVlmOptions"/> holds it; <see cref="Default"/> is the options' defaults);
/// the schedule's shape (momentum, warm-up factor, decay points) is not an option.
/// </summary>
internal sealed record TrainingSettings
{
    /// <summary>Side of the square training canvas in pixels (a multiple of the VLM's size multiple).</summary>
    public required int ImageSize { get; init; }
    public required int BatchSize { get; init; }
    public required int Steps { get; init; }
    /// <summary>Peak learning rate of SGD.</summary>
    public required double LearningRate { get; init; }
    public double Momentum { get; init; } = 0.9;
    public required double WeightDecay { get; init; }
    /// <summary>Steps of linear warm-up from <see cref="WarmupFactor"/> times the peak rate.</summary>
    public required int WarmupSteps { get; init; }
    public double WarmupFactor { get; init; } = 0.001;
    /// <summary>Gradients are rescaled to at most this global L2 norm before each step (0: no clipping).</summary>
    public required double GradientClipNorm { get; init; }
    /// <summary>Weight of the mask loss in the total (the other losses weigh 1).</summary>
    public required double MaskLossWeight { get; init; }
    /// <summary>Fractions of <see cref="Steps"/> after which the rate is multiplied by <see cref="DecayFactor"/>.</summary>
    public IReadOnlyList<double> DecayAt { get; init; } = [0.8, 0.9];
    public double DecayFactor { get; init; } = 0.1;
    public required double MinJitterScale { get; init; }
    public required double MaxJitterScale { get; init; }
    public required bool HorizontalFlip { get; init; }
    /// <summary>Fixed augmentations per image, each cached once (see <see cref="LargeScaleJitter"/>).</summary>
    public required int AugmentationVariants { get; init; }
    public required bool CacheFeatures { get; init; }
    public required long CacheMemoryBytes { get; init; }
    public required string? CacheFolder { get; init; }
    public required int Seed { get; init; }
    /// <summary>Write a checkpoint every this many steps (0: never).</summary>
    public required int CheckpointEvery { get; init; }
    public required string? CheckpointFolder { get; init; }
    /// <summary>A checkpoint file to resume from.</summary>
    public required string? ResumeFrom { get; init; }
    /// <summary>TorchSharp device of the head: "cpu" or "cuda[:n]".</summary>
    public required string Device { get; init; }

    /// <summary>The settings of the options' defaults.</summary>
    public static TrainingSettings Default => FVlmOptionsValidator.Training(new FVlmOptions());

    /// <summary>The learning rate at <paramref name="step"/> (0-based): warm-up, then step decay.</summary>
    public double LearningRateAt(int step)
    {
        double rate = LearningRate;
        foreach (double fraction in DecayAt)
            if (step >= fraction * Steps) rate *= DecayFactor;
        if (step < WarmupSteps)
            rate *= WarmupFactor + (1 - WarmupFactor) * step / WarmupSteps;
        return rate;
    }
}
