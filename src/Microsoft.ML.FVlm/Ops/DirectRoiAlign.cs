using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// RoIAlign computed directly on arrays, for inference: the same samples, weights and border rules as
/// <see cref="RoiAlign"/> (torchvision, <c>aligned=True</c>), with the map laid out channels last so
/// that each bilinear sample is four weighted vector additions over the channels. No gradients.
/// </summary>
internal static class DirectRoiAlign
{
    /// <param name="features">[1, C, H, W] float32 on the CPU.</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 input pixels.</param>
    /// <param name="outputSize">g: output bins per side.</param>
    /// <param name="spatialScale">Map cells per input pixel.</param>
    /// <param name="samplingRatio">Samples per bin per side.</param>
    /// <returns>[R, C, g, g].</returns>
    public static Tensor Forward(Tensor features, Tensor boxes, int outputSize, double spatialScale, int samplingRatio)
    {
        using var map = ChannelsLastMap.From(features);
        using var pooled = ForwardChannelsLast(map, boxes, outputSize, spatialScale, samplingRatio);
        return pooled.permute(0, 3, 1, 2).contiguous().to(features.device);
    }

    /// <summary>RoIAlign of a map already laid out channels last, output channels last too.</summary>
    /// <returns>[R, g, g, C] on the CPU.</returns>
    /// <remarks>The bins are written straight into the output tensor's native memory: no managed array of the output's size.</remarks>
    public static unsafe Tensor ForwardChannelsLast(ChannelsLastMap map, Tensor boxes, int outputSize, double spatialScale, int samplingRatio)
    {
        int count = (int)boxes.shape[0], g = outputSize, channels = map.Channels;
        if (count == 0) return zeros(0, g, g, channels);
        float[] corners;
        using (var scope = NewDisposeScope())
            corners = boxes.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var output = zeros(count, g, g, channels);  // [R, g, g, C]; bins with no sample inside the map stay zero
        int bins = g * g;
        float* destination = (float*)NativeData(output);
        float* source = (float*)NativeData(map.Data);
        int mapLength = checked((int)map.Data.numel());
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = count * bins * channels < 1 << 16 ? 1 : -1 }, r =>
            PoolBox(new ReadOnlySpan<float>(source, mapLength), map.Height, map.Width, channels, corners.AsSpan(r * 4, 4), g, spatialScale, samplingRatio,
                new Span<float>(destination + (long)r * bins * channels, bins * channels)));
        return output;
    }

    /// <summary>
    /// RoIAlign of boxes <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 on a map laid out
    /// channels last in native memory (an ONNX Runtime output), written channels last into <paramref name="output"/>.
    /// </summary>
    /// <param name="map">[H, W, C] float32.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="channels">C.</param>
    /// <param name="corners">x0 y0 x1 y1 per box, input pixels.</param>
    /// <param name="first">The first box.</param>
    /// <param name="count">How many boxes.</param>
    /// <param name="outputSize">g: output bins per side.</param>
    /// <param name="spatialScale">Map cells per input pixel.</param>
    /// <param name="samplingRatio">Samples per bin per side.</param>
    /// <param name="output">At least [count, g, g, C]; overwritten (bins with no sample inside the map are zero).</param>
    public static unsafe void ForwardChannelsLast(float* map, int height, int width, int channels, float[] corners, int first, int count, int outputSize,
        double spatialScale, int samplingRatio, float[] output)
    {
        int g = outputSize, bins = g * g, mapLength = checked(height * width * channels);
        long length = (long)count * bins * channels;
        if (output.LongLength < length) throw new ArgumentException($"The output holds {output.LongLength} values; {count} boxes need {length}.", nameof(output));
        Array.Clear(output, 0, (int)length);
        fixed (float* destination = output)
        {
            float* target = destination;
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = length < 1 << 16 ? 1 : -1 }, r =>
                PoolBox(new ReadOnlySpan<float>(map, mapLength), height, width, channels, corners.AsSpan((first + r) * 4, 4), g, spatialScale, samplingRatio,
                    new Span<float>(target + (long)r * bins * channels, bins * channels)));
        }
    }

    /// <summary>The first element of a contiguous CPU tensor's native memory (it does not move while the tensor lives).</summary>
    private static unsafe IntPtr NativeData(Tensor tensor) =>
        (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));

    private static void PoolBox(ReadOnlySpan<float> map, int height, int width, int channels, ReadOnlySpan<float> box, int g, double scale, int ratio, Span<float> destination)
    {
        double x0 = box[0] * scale - 0.5, y0 = box[1] * scale - 0.5;
        double binWidth = (box[2] * scale - 0.5 - x0) / g, binHeight = (box[3] * scale - 0.5 - y0) / g;
        float norm = 1f / (ratio * ratio);
        for (int by = 0; by < g; by++)
        {
            for (int bx = 0; bx < g; bx++)
            {
                var bin = destination.Slice((by * g + bx) * channels, channels);
                for (int sy = 0; sy < ratio; sy++)
                {
                    double y = y0 + (by + (sy + 0.5) / ratio) * binHeight;
                    if (y < -1.0 || y > height) continue;
                    Axis(y, height, out int yLow, out int yHigh, out double yFraction);
                    float ly = (float)yFraction;
                    for (int sx = 0; sx < ratio; sx++)
                    {
                        double x = x0 + (bx + (sx + 0.5) / ratio) * binWidth;
                        if (x < -1.0 || x > width) continue;
                        Axis(x, width, out int xLow, out int xHigh, out double xFraction);
                        float lx = (float)xFraction;
                        float hy = 1 - ly, hx = 1 - lx;
                        Accumulate(bin, map, channels,
                            (yLow * width + xLow) * channels, hy * hx * norm,
                            (yLow * width + xHigh) * channels, hy * lx * norm,
                            (yHigh * width + xLow) * channels, ly * hx * norm,
                            (yHigh * width + xHigh) * channels, ly * lx * norm);
                    }
                }
            }
        }
    }

    /// <summary>torchvision's neighbours and weight along one axis, for a coordinate within a pixel of the map.</summary>
    internal static void Axis(double coordinate, int size, out int low, out int high, out double fraction)
    {
        if (coordinate < 0) coordinate = 0;
        low = (int)coordinate;
        if (low >= size - 1)
        {
            low = high = size - 1;
            fraction = 0;
            return;
        }
        high = low + 1;
        fraction = coordinate - low;
    }

    private static void Accumulate(Span<float> bin, ReadOnlySpan<float> map, int channels, int o1, float w1, int o2, float w2, int o3, float w3, int o4, float w4)
    {
        var a = map.Slice(o1, channels);
        var b = map.Slice(o2, channels);
        var c = map.Slice(o3, channels);
        var d = map.Slice(o4, channels);
        int i = 0;
        if (Vector.IsHardwareAccelerated && channels >= Vector<float>.Count)
        {
            var output = MemoryMarshal.Cast<float, Vector<float>>(bin);
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var vc = MemoryMarshal.Cast<float, Vector<float>>(c);
            var vd = MemoryMarshal.Cast<float, Vector<float>>(d);
            for (int v = 0; v < output.Length; v++)
                output[v] += va[v] * w1 + vb[v] * w2 + vc[v] * w3 + vd[v] * w4;
            i = output.Length * Vector<float>.Count;
        }
        for (; i < channels; i++)
            bin[i] += a[i] * w1 + b[i] * w2 + c[i] * w3 + d[i] * w4;
    }
}

/// <summary>
/// One image's [1, C, H, W] feature map laid out [H, W, C] in a contiguous float32 CPU tensor: each
/// bilinear tap of <see cref="DirectRoiAlign"/> is then a contiguous vector. Dispose it when done (it
/// is also released with the dispose scope it was made in).
/// </summary>
internal sealed class ChannelsLastMap : IDisposable
{
    private ChannelsLastMap(Tensor data, int height, int width, int channels) => (Data, Height, Width, Channels) = (data, height, width, channels);

    /// <summary>[H, W, C] float32, contiguous, on the CPU.</summary>
    public Tensor Data { get; }
    public int Height { get; }
    public int Width { get; }
    public int Channels { get; }

    /// <param name="features">[1, C, H, W] or [C, H, W] float32.</param>
    public static ChannelsLastMap From(Tensor features)
    {
        using var scope = NewDisposeScope();
        var map = features.dim() == 4 ? features[0] : features;
        var data = map.permute(1, 2, 0).to(ScalarType.Float32).cpu().contiguous();
        return new ChannelsLastMap(data.MoveToOuterDisposeScope(), (int)map.shape[1], (int)map.shape[2], (int)map.shape[0]);
    }

    public void Dispose() => Data.Dispose();
}
