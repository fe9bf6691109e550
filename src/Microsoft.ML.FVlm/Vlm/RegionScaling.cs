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
/// The resized canvases are the scale-1 canvas resized bilinearly (not the original image rendered
/// again), so a scale above 1 enlarges what the tower sees without adding detail: it serves a VLM
/// that reads small objects badly, not images larger than the canvas. Sides are rounded to whole
/// pixels, and boxes are multiplied by the scale itself. Measured on the Shapes VLM
/// (docs/shapes-vlm.md): region top-1 on ground-truth boxes rises from 0.57 at scale 1 alone to 0.72
/// with scales 0.5, 1 and 2. The image tower runs once more per extra scale, on s^2 times the pixels.
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
        if (!(spread is >= 0.01 and <= 10)) throw new ArgumentOutOfRangeException(nameof(spread), spread, "The region scale spread must be from 0.01 to 10.");
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

    /// <summary>
    /// The weighted sum, per box, of its unit embeddings at the scales that weigh it (<see cref="Weights"/>), not yet
    /// normalised: each scale embeds only the boxes it weighs, scaled onto its canvas.
    /// </summary>
    /// <param name="corners">R boxes, x0 y0 x1 y1 each, canvas pixels at scale 1.</param>
    /// <param name="dim">The embedding size D.</param>
    /// <param name="unitEmbeddingsAt">Given a scale's index and boxes on its canvas (x0 y0 x1 y1 each), their unit embeddings [n, D] row by row.</param>
    /// <returns>[R, D] row by row.</returns>
    internal float[] WeightedSum(float[] corners, int dim, Func<int, float[], float[]> unitEmbeddingsAt)
    {
        int count = corners.Length / 4, scaleCount = Scales.Count;
        float[] weights = Weights(corners);
        var sum = new float[count * dim];
        for (int s = 0; s < scaleCount; s++)
        {
            var used = Enumerable.Range(0, count).Where(r => weights[r * scaleCount + s] > 0).ToArray();
            if (used.Length == 0) continue;
            var scaled = new float[used.Length * 4];
            for (int i = 0; i < used.Length; i++)
                for (int j = 0; j < 4; j++) scaled[i * 4 + j] = (float)(corners[used[i] * 4 + j] * Scales[s]);
            float[] embedded = unitEmbeddingsAt(s, scaled);
            for (int i = 0; i < used.Length; i++)
            {
                float weight = weights[used[i] * scaleCount + s];
                for (int d = 0; d < dim; d++) sum[used[i] * dim + d] += weight * embedded[i * dim + d];
            }
        }
        return sum;
    }

    /// <summary>Per box and scale, the weight of the box's embedding at that scale, normalised per box; 0 where skipped.</summary>
    /// <param name="corners">R boxes, x0 y0 x1 y1 each, canvas pixels at scale 1.</param>
    /// <returns>R x S weights, box-major.</returns>
    public float[] Weights(ReadOnlySpan<float> corners)
    {
        if (corners.Length % 4 != 0)
            throw new ArgumentException($"corners must hold 4 numbers per box; got {corners.Length}.", nameof(corners));
        int count = corners.Length / 4, scaleCount = Scales.Count;
        var weights = new float[count * scaleCount];
        var logits = new double[scaleCount];
        for (int r = 0; r < count; r++)
        {
            double side = Math.Max(1e-3, Math.Max(corners[r * 4 + 2] - corners[r * 4], corners[r * 4 + 3] - corners[r * 4 + 1]));
            double largest = double.NegativeInfinity;
            for (int s = 0; s < scaleCount; s++)
            {
                double distance = Math.Log(side * Scales[s] / ObjectSize);
                logits[s] = -distance * distance / (2 * Spread * Spread);
                largest = Math.Max(largest, logits[s]);
            }
            double sum = 0;
            for (int s = 0; s < scaleCount; s++)
            {
                double weight = Math.Exp(logits[s] - largest);   // the largest is 1
                logits[s] = weight < SkipBelow ? 0 : weight;
                sum += logits[s];
            }
            for (int s = 0; s < scaleCount; s++) weights[r * scaleCount + s] = (float)(logits[s] / sum);
        }
        return weights;
    }

    public bool Equals(RegionScaling? other) =>
        other is not null && Scales.SequenceEqual(other.Scales) && ObjectSize == other.ObjectSize && Spread == other.Spread;

    public override int GetHashCode() => HashCode.Combine(Scales.Count, Scales[0], ObjectSize, Spread);

    public override string ToString() => IsSingle ? "scale 1" : $"scales {string.Join(", ", Scales)}, object size {ObjectSize}, spread {Spread}";
}
