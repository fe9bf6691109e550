using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// RoIAlign (He et al., Mask R-CNN) with torchvision's semantics for <c>aligned=True</c> and a fixed
/// sampling ratio. TorchSharp has no RoIAlign of its own: where gradients must reach the feature map
/// (training) it is a sparse matrix of bilinear weights times the map (<see cref="SparseRoiAlign"/>);
/// otherwise (inference, float32 on the CPU) it is computed directly, channels innermost
/// (<see cref="DirectRoiAlign"/>): 2.9 times faster than the earlier <c>grid_sample</c> path for 1,000
/// boxes of 7x7 on a 64-channel 80x80 map, measured in one run on 2 cores.
/// </summary>
/// <remarks>
/// Each output bin averages <c>samplingRatio x samplingRatio</c> bilinear samples at the centres of a
/// regular sub-grid. As torchvision: a sample more than one pixel outside the map is zero; one within a
/// pixel of the border is clamped to the border before interpolation. Boxes are [R, 4] x0 y0 x1 y1 in
/// input pixels; <c>spatialScale</c> maps them onto the map (1 / stride); aligned mode shifts them by
/// half a pixel so that pixel centres line up.
/// </remarks>
internal static class RoiAlign
{
    /// <summary>Pools boxes of one image.</summary>
    /// <param name="features">[C, H, W] or [1, C, H, W] feature map.</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1, input pixels.</param>
    /// <param name="outputSize">g: output bins per side.</param>
    /// <param name="spatialScale">Feature-map cells per input pixel (1 / stride).</param>
    /// <param name="samplingRatio">Samples per bin per side (torchvision's <c>sampling_ratio</c>; must be positive).</param>
    /// <returns>[R, C, g, g].</returns>
    public static Tensor Forward(Tensor features, Tensor boxes, int outputSize, double spatialScale, int samplingRatio = 2)
    {
        if (features.dim() == 3) features = features.unsqueeze(0);
        if (features.dim() != 4 || features.shape[0] != 1)
            throw new ArgumentException($"features must be [C, H, W] or [1, C, H, W]; got [{string.Join(", ", features.shape)}].", nameof(features));
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"boxes must be [R, 4]; got [{string.Join(", ", boxes.shape)}].", nameof(boxes));
        if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, "must be positive");
        if (samplingRatio <= 0) throw new ArgumentOutOfRangeException(nameof(samplingRatio), samplingRatio, "must be positive (adaptive sampling is not supported)");

        long roiCount = boxes.shape[0];
        if (roiCount == 0) return zeros(0, features.shape[1], outputSize, outputSize, dtype: features.dtype, device: features.device);
        if (!NeedsGradient([features]) && features.dtype == ScalarType.Float32 && features.device_type == DeviceType.CPU)
            return DirectRoiAlign.Forward(features, boxes, outputSize, spatialScale, samplingRatio);

        return SparseRoiAlign.Forward([features], boxes, new long[roiCount], [spatialScale], outputSize, samplingRatio);
    }

    /// <summary>True when a pooling of <paramref name="levels"/> must keep autograd's graph (training).</summary>
    internal static bool NeedsGradient(IEnumerable<Tensor> levels) => is_grad_enabled() && levels.Any(l => l.requires_grad);

    /// <summary>Pools box r from its own map r (e.g. each proposal's ground-truth mask), in one call.</summary>
    /// <param name="features">[R, C, H, W]: one map per box.</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 input pixels.</param>
    /// <param name="outputSize">Output bins per side.</param>
    /// <param name="spatialScale">Map cells per input pixel.</param>
    /// <param name="samplingRatio">Samples per bin per side.</param>
    /// <returns>[R, C, outputSize, outputSize].</returns>
    public static Tensor ForwardPerBox(Tensor features, Tensor boxes, int outputSize, double spatialScale, int samplingRatio = 2)
    {
        if (features.dim() != 4 || boxes.dim() != 2 || features.shape[0] != boxes.shape[0])
            throw new ArgumentException($"features must be [R, C, H, W] and boxes [R, 4] with the same R; got [{string.Join(", ", features.shape)}] and [{string.Join(", ", boxes.shape)}].");
        if (boxes.shape[0] == 0) return zeros(0, features.shape[1], outputSize, outputSize, dtype: features.dtype, device: features.device);
        using var scope = NewDisposeScope();
        var (grid, valid) = SamplingGrid(boxes.to(features.dtype), outputSize, spatialScale, samplingRatio, features.shape[2], features.shape[3]);
        var sampled = nn.functional.grid_sample(features, grid, mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Zeros, align_corners: true);
        return nn.functional.avg_pool2d(sampled * valid, samplingRatio).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The normalised sampling grid [R, S, S, 2] (x, y) of every box, S = outputSize x samplingRatio,
    /// and [R, 1, S, S] weights that zero the samples torchvision treats as outside the map.
    /// </summary>
    private static (Tensor Grid, Tensor Valid) SamplingGrid(Tensor boxes, int outputSize, double spatialScale, int samplingRatio, long height, long width)
    {
        long roiCount = boxes.shape[0];
        int samples = outputSize * samplingRatio;
        var scaled = boxes * spatialScale - 0.5;
        var x0 = scaled[.., 0..1];
        var y0 = scaled[.., 1..2];
        var binWidth = (scaled[.., 2..3] - x0) / outputSize;
        var binHeight = (scaled[.., 3..4] - y0) / outputSize;
        // Sample centres: bin b, sample s -> b + (s + 0.5) / samplingRatio bins from the box corner.
        var offsets = (arange(samples, dtype: boxes.dtype, device: boxes.device) + 0.5) / samplingRatio;
        var xs = x0 + offsets.unsqueeze(0) * binWidth;   // [R, S]
        var ys = y0 + offsets.unsqueeze(0) * binHeight;  // [R, S]

        // torchvision: outside (-1, size) contributes zero; inside, clamp to [0, size - 1].
        var xValid = (xs >= -1.0) & (xs <= width);
        var yValid = (ys >= -1.0) & (ys <= height);
        xs = xs.clamp(0, width - 1);
        ys = ys.clamp(0, height - 1);
        // grid_sample with align_corners=True maps -1 and 1 to the centres of the border pixels.
        var gx = width > 1 ? xs / (width - 1) * 2 - 1 : zeros_like(xs);
        var gy = height > 1 ? ys / (height - 1) * 2 - 1 : zeros_like(ys);
        var grid = stack([
            gx.unsqueeze(1).expand(roiCount, samples, samples),
            gy.unsqueeze(2).expand(roiCount, samples, samples)], dim: -1);
        var valid = (yValid.unsqueeze(2) & xValid.unsqueeze(1)).unsqueeze(1).to(boxes.dtype);
        return (grid, valid);
    }
}
