namespace Microsoft.ML.FVlm.Training;

/// <summary>How the detector head is trained (built from the estimator's options, read nowhere else).</summary>
internal sealed record TrainingSettings
{
    /// <summary>Side of the square training canvas in pixels (a multiple of the VLM's size multiple).</summary>
    public int ImageSize { get; init; } = 320;
    public int BatchSize { get; init; } = 8;
    public int Steps { get; init; } = 1000;
    /// <summary>Peak learning rate of SGD.</summary>
    public double LearningRate { get; init; } = 0.02;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Steps of linear warm-up from <see cref="WarmupFactor"/> times the peak rate.</summary>
    public int WarmupSteps { get; init; } = 100;
    public double WarmupFactor { get; init; } = 0.001;
    /// <summary>Gradients are rescaled to at most this global L2 norm before each step (0: no clipping).</summary>
    public double GradientClipNorm { get; init; } = 10.0;
    /// <summary>Weight of the mask loss in the total (the other losses weigh 1).</summary>
    public double MaskLossWeight { get; init; } = 1.0;
    /// <summary>Fractions of <see cref="Steps"/> after which the rate is multiplied by <see cref="DecayFactor"/>.</summary>
    public IReadOnlyList<double> DecayAt { get; init; } = [0.8, 0.9];
    public double DecayFactor { get; init; } = 0.1;
    public double MinJitterScale { get; init; } = 0.1;
    public double MaxJitterScale { get; init; } = 2.0;
    public bool HorizontalFlip { get; init; } = true;
    /// <summary>Fixed augmentations per image, each cached once (see <see cref="LargeScaleJitter"/>).</summary>
    public int AugmentationVariants { get; init; } = 4;
    public bool CacheFeatures { get; init; } = true;
    public long CacheMemoryBytes { get; init; } = 4L << 30;
    public string? CacheFolder { get; init; }
    public int Seed { get; init; }
    /// <summary>Write a checkpoint every this many steps (0: never).</summary>
    public int CheckpointEvery { get; init; }
    public string? CheckpointFolder { get; init; }
    /// <summary>A checkpoint file to resume from.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>TorchSharp device of the head: "cpu" or "cuda[:n]".</summary>
    public string Device { get; init; } = "cpu";

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
