using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// At which image scales the frozen VLM embeds regions. F-VLM pools every box from one run of the
/// image tower (<see cref="Single"/>, the default). A VLM classifies a region best when the object
/// appears at about the size its pretraining showed objects at, so with several scales the tower
/// also runs on the canvas resized by each of <see cref="Scales"/>, and a box's embedding is the
/// normalised weighted mean of its unit embeddings at every scale, weighted by how close the box's
/// longest side at that scale is to <see cref="ObjectSize"/>:
/// <c>w_s = exp(-ln(side * s / ObjectSize)^2 / (2 * Spread^2))</c>. Scales whose weight for a box is
/// under 1 % of the box's largest weight are skipped for that box.
/// </summary>
/// <remarks>
/// Measured on the Shapes VLM (docs/shapes-vlm.md): region top-1 on ground-truth boxes rises from
/// 0.57 at scale 1 alone to about 0.72 with scales 0.5, 1 and 2. The image tower runs once more
/// per extra scale, on s^2 times the pixels.
/// </remarks>
public sealed record RegionScaling
{
    /// <summary>Weights under this fraction of a box's largest weight are treated as zero.</summary>
    public const double SkipBelow = 0.01;

    /// <summary>F-VLM's single scale: the tower's run at the canvas size, nothing else.</summary>
    public static RegionScaling Single { get; } = new([1.0], 64, 0.5);

    /// <param name="scales">Canvas scale factors, each in (0, 8]; include 1 to reuse the detector's own run of the tower.</param>
    /// <param name="objectSize">The box side, in canvas pixels after scaling, that the VLM embeds best.</param>
    /// <param name="spread">Standard deviation of the weights over the log of the scaled side.</param>
    public RegionScaling(IReadOnlyList<double> scales, double objectSize, double spread)
    {
        ArgumentNullException.ThrowIfNull(scales);
        if (scales.Count == 0) throw new ArgumentException("Region scales: at least one scale is needed.", nameof(scales));
        foreach (double s in scales)
            if (!(s > 0 && s <= 8)) throw new ArgumentOutOfRangeException(nameof(scales), s, "Region scales must be in (0, 8].");
        if (scales.Distinct().Count() != scales.Count) throw new ArgumentException($"Region scales repeat a scale: {string.Join(", ", scales)}.", nameof(scales));
        if (!(objectSize > 0 && double.IsFinite(objectSize))) throw new ArgumentOutOfRangeException(nameof(objectSize), objectSize, "The region object size must be a positive number of pixels.");
        if (!(spread > 0 && double.IsFinite(spread))) throw new ArgumentOutOfRangeException(nameof(spread), spread, "The region scale spread must be positive.");
        Scales = scales.ToArray();
        ObjectSize = objectSize;
        Spread = spread;
    }

    /// <summary>Canvas scale factors.</summary>
    public IReadOnlyList<double> Scales { get; }

    /// <summary>The scaled box side (pixels) with the largest weight.</summary>
    public double ObjectSize { get; }

    /// <summary>Standard deviation of the weights in natural-log units of the side.</summary>
    public double Spread { get; }

    /// <summary>True when regions are embedded from the canvas at scale 1 only.</summary>
    public bool IsSingle => Scales.Count == 1 && Scales[0] == 1.0;

    /// <summary>Per box and scale, the weight of the box's embedding at that scale, normalised per box; 0 where skipped.</summary>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 canvas pixels at scale 1.</param>
    /// <returns>[R, S] float32.</returns>
    public Tensor Weights(Tensor boxes)
    {
        using var scope = NewDisposeScope();
        var side = maximum(boxes[.., 2] - boxes[.., 0], boxes[.., 3] - boxes[.., 1]).clamp(min: 1e-3).to(ScalarType.Float64);
        var logScales = tensor(Scales.Select(s => Math.Log(s)).ToArray(), dtype: ScalarType.Float64, device: boxes.device);
        var distance = side.log().unsqueeze(1) + logScales.unsqueeze(0) - Math.Log(ObjectSize);  // [R, S]
        var logits = -distance.pow(2) / (2 * Spread * Spread);
        var weights = (logits - logits.max(1, keepdim: true).values).exp();                   // largest is 1
        weights = weights.masked_fill(weights < SkipBelow, 0);
        return (weights / weights.sum(1, keepdim: true)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public bool Equals(RegionScaling? other) =>
        other is not null && Scales.SequenceEqual(other.Scales) && ObjectSize == other.ObjectSize && Spread == other.Spread;

    public override int GetHashCode() => HashCode.Combine(Scales.Count, Scales[0], ObjectSize, Spread);

    public override string ToString() => IsSingle ? "scale 1" : $"scales {string.Join(", ", Scales)}, object size {ObjectSize}, spread {Spread}";
}
