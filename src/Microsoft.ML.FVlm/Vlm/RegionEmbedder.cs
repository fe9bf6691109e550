using System.Buffers;
using Microsoft.ML.FVlm.Ops;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// The VLM's unit region embeddings of boxes from its projected region maps (the factorized path), in C# and the VLM's
/// region attention graph, without TorchSharp: what <see cref="FrozenVlm.EmbedRegions(IReadOnlyList{TorchSharp.torch.Tensor}, TorchSharp.torch.Tensor, RegionScaling)"/>
/// computes after the projector. The detector's graph hands the maps over channels last (<see cref="Onnx.DetectorGraph.RegionMap"/>),
/// so that each bilinear tap of RoIAlign is a vector over the thousands of projected channels (ONNX's <c>RoiAlign</c>
/// pools one channel at a time). Boxes go through the attention graph in chunks of about
/// <see cref="FrozenVlm.RoiChunkBytes"/> of RoIAlign output.
/// </summary>
internal static class RegionEmbedder
{
    /// <summary>One scale's projected region map of one image, channels last, in native memory that outlives the call.</summary>
    /// <param name="Data">[h, w, P] float32.</param>
    /// <param name="Height">h.</param>
    /// <param name="Width">w.</param>
    /// <param name="Channels">P.</param>
    public readonly record struct ProjectedMap(IntPtr Data, int Height, int Width, int Channels);

    /// <summary>Unit region embeddings [R, D] of boxes at the scales of <paramref name="scaling"/>, row by row.</summary>
    /// <param name="vlm">The VLM (its region attention graph, stride, pooling size).</param>
    /// <param name="maps">Per scale of <paramref name="scaling"/>, the projected map.</param>
    /// <param name="corners">x0 y0 x1 y1 per box, canvas pixels at scale 1.</param>
    /// <param name="scaling">The scales and weights (<see cref="RegionScaling.Weights"/>).</param>
    public static float[] Embed(FrozenVlm vlm, IReadOnlyList<ProjectedMap> maps, float[] corners, RegionScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        if (maps.Count != scaling.Scales.Count)
            throw new ArgumentException($"{maps.Count} region maps for {scaling.Scales.Count} region scales.", nameof(maps));
        int count = corners.Length / 4, dim = vlm.Manifest.EmbeddingDim;
        if (scaling.IsSingle || count == 0) return Normalized(EmbedUnnormalised(vlm, maps[0], corners), dim);
        float[] sum = scaling.WeightedSum(corners, dim, (s, scaled) => Normalized(EmbedUnnormalised(vlm, maps[s], scaled), dim));
        return Normalized(sum, dim);
    }

    /// <summary>Region embeddings [R, D] (not normalised) of boxes on one projected map: RoIAlign, then the attention graph, chunk by chunk.</summary>
    internal static unsafe float[] EmbedUnnormalised(FrozenVlm vlm, ProjectedMap map, float[] corners)
    {
        int g = vlm.Manifest.RegionPooler.RoiOutputSize, dim = vlm.Manifest.EmbeddingDim, count = corners.Length / 4;
        int perBox = g * g * map.Channels;
        int chunk = (int)Math.Clamp(vlm.RoiChunkBytes / ((long)perBox * sizeof(float)), 1, Math.Max(count, 1));
        var result = new float[count * dim];
        float[] rois = ArrayPool<float>.Shared.Rent(chunk * perBox);
        try
        {
            for (int first = 0; first < count; first += chunk)
            {
                int boxes = Math.Min(chunk, count - first);
                DirectRoiAlign.ForwardChannelsLast((float*)map.Data, map.Height, map.Width, map.Channels, corners, first, boxes, g,
                    1.0 / vlm.Manifest.RegionLevel.Stride, FrozenVlm.RegionSamplingRatio, rois);
                vlm.AttendRegionValues(rois, boxes).CopyTo(result, first * dim);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rois);
        }
        return result;
    }

    /// <summary>Each row of <paramref name="values"/> divided by its L2 norm (at least 1e-12, as <c>functional.normalize</c>), in place.</summary>
    private static float[] Normalized(float[] values, int dim)
    {
        for (int row = 0; row < values.Length / dim; row++)
        {
            var span = values.AsSpan(row * dim, dim);
            double squares = 0;
            foreach (float value in span) squares += (double)value * value;
            float norm = (float)Math.Max(Math.Sqrt(squares), 1e-12);
            for (int d = 0; d < dim; d++) span[d] /= norm;
        }
        return values;
    }
}
