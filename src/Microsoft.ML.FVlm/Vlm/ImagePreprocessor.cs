using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Onnx;
using static TorchSharp.torch;
using DataType = Microsoft.ML.FVlm.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// Turns images into the image encoder's <c>pixel_values</c>: resize so the longest side is the
/// target size (bilinear, half-pixel centres, aspect kept), normalise with the manifest's mean and
/// std, and place top-left on a zero canvas (the mean colour) whose sides are multiples of the size
/// multiple. Boxes in the original image map to the canvas by multiplying with <see cref="PreparedBatch.Scales"/>.
/// </summary>
internal sealed class ImagePreprocessor
{
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly int _sizeMultiple;

    public ImagePreprocessor(VlmManifest manifest)
    {
        _mean = manifest.ImageEncoder.PixelMean;
        _std = manifest.ImageEncoder.PixelStd;
        _sizeMultiple = manifest.ImageEncoder.SizeMultiple;
    }

    /// <summary>A batch ready for the image encoder.</summary>
    /// <param name="PixelValues">[N, 3, H, W] float32, H and W multiples of the size multiple.</param>
    /// <param name="Scales">Per image: canvas pixels per original pixel.</param>
    /// <param name="Sizes">Per image: (height, width) of the resized image on the canvas.</param>
    public sealed record PreparedBatch(Tensor PixelValues, float[] Scales, (int Height, int Width)[] Sizes);

    /// <summary>Prepares <paramref name="images"/> at longest side <paramref name="imageSize"/>.</summary>
    public PreparedBatch Prepare(IReadOnlyList<MLImage> images, int imageSize)
    {
        if (images.Count == 0) throw new ArgumentException("At least one image is needed.", nameof(images));
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "The image size must be positive.");
        var scales = new float[images.Count];
        var sizes = new (int, int)[images.Count];
        int canvasHeight = 0, canvasWidth = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var image = images[i] ?? throw new ArgumentException($"Image {i} of the batch is missing.", nameof(images));
            if (image.Width <= 0 || image.Height <= 0) throw new ArgumentException($"Image {i} of the batch is empty.", nameof(images));
            scales[i] = (float)imageSize / Math.Max(image.Width, image.Height);
            sizes[i] = (Math.Max(1, (int)Math.Round(image.Height * scales[i])), Math.Max(1, (int)Math.Round(image.Width * scales[i])));
            canvasHeight = Math.Max(canvasHeight, RoundUp(sizes[i].Item1));
            canvasWidth = Math.Max(canvasWidth, RoundUp(sizes[i].Item2));
        }

        var pixels = zeros(images.Count, 3, canvasHeight, canvasWidth);
        Parallel.For(0, images.Count, i =>
        {
            int plane = canvasHeight * canvasWidth;
            var destination = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(pixels.bytes).Slice(i * 3 * plane, 3 * plane);
            Render(images[i], new ImageTransform(scales[i], 0, 0, false), sizes[i].Item1, sizes[i].Item2, canvasWidth, destination);
        });
        return new PreparedBatch(pixels, scales, sizes);
    }

    /// <summary>
    /// Renders one image through <paramref name="transform"/> into a [3, canvasHeight, canvasWidth]
    /// slice: canvas pixel (x, y) shows the scaled (and optionally mirrored) image at
    /// (x + OffsetX, y + OffsetY). Only the top-left <paramref name="height"/> x <paramref name="width"/>
    /// pixels are written; the rest keep their value (zero: the mean colour).
    /// </summary>
    public void Render(MLImage image, ImageTransform transform, int height, int width, int canvasWidth, Span<float> destination)
    {
        int plane = destination.Length / 3;
        ResizeNormalise(image, transform, height, width, canvasWidth, plane, destination);
    }

    /// <summary>
    /// Adds what <see cref="Prepare"/> computes for one image to <paramref name="graph"/>, with the same arithmetic in
    /// float32: the scale <c>imageSize / max(H, W)</c>, the resized size <c>max(1, round(side * scale))</c> (half to
    /// even), bilinear taps at half-pixel centres clamped to the image, the four taps blended in the order
    /// <see cref="Render"/> blends them, the normalisation, and zero padding (the mean colour) to the size multiple.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="image">The value [H, W, 3] (uint8, RGB).</param>
    /// <param name="imageSize">The longest side on the canvas.</param>
    /// <returns>
    /// The canvas [1, 3, H', W'] (float32, H' and W' multiples of the size multiple), the resized image's (height,
    /// width) on it as float32 [2], and the scale (canvas pixels per image pixel) as float32 [1].
    /// </returns>
    public (string Canvas, string ResizedSize, string Scale) Export(OnnxGraphBuilder graph, string image, int imageSize)
    {
        string Op(string op, string what, params string[] inputs) => graph.Node(op, $"preprocess.{what}", inputs);
        string Cast(string value, DataType type, string what) => graph.Node("Cast", $"preprocess.{what}", [value], ("to", (long)type));
        string Float(float value, string what) => graph.Weight($"preprocess.{what}", [value]);
        string Int64(long value, string what) => graph.Int64s($"preprocess.{what}", value);

        string shape = Op("Shape", "shape", image);
        string height = Op("Slice", "height", shape, Int64(0, "height_start"), Int64(1, "height_end"));
        string width = Op("Slice", "width", shape, Int64(1, "width_start"), Int64(2, "width_end"));
        string scale = Op("Div", "scale", Float(imageSize, "image_size"), Cast(Op("Max", "longest", height, width), DataType.Float, "longest_float"));
        string inverse = Op("Div", "inverse", Float(1, "unit"), scale);
        string one = Int64(1, "one");

        // Per canvas row (column): the image rows (columns) either side of its centre and the weight of the second.
        (string Size, string First, string Second, string Weight) Taps(string side, string what)
        {
            string sideFloat = Cast(side, DataType.Float, $"{what}_float");
            string size = Op("Max", $"{what}_resized", one, Cast(Op("Round", $"{what}_rounded", Op("Mul", $"{what}_scaled", sideFloat, scale)), DataType.Int64, $"{what}_resized_int"));
            string positions = Cast(graph.Node("Range", $"preprocess.{what}_positions",
                [graph.Scalar($"preprocess.{what}_from", 0L), graph.Node("Squeeze", $"preprocess.{what}_count", [size]), graph.Scalar($"preprocess.{what}_step", 1L)]),
                DataType.Float, $"{what}_positions_float");
            string unclamped = Op("Sub", $"{what}_unclamped", Op("Mul", $"{what}_unscaled", Op("Add", $"{what}_centres", positions, Float(0.5f, $"{what}_half")), inverse), Float(0.5f, $"{what}_half_back"));
            string lastIndex = Op("Sub", $"{what}_last", side, one);
            string source = graph.Node("Clip", $"preprocess.{what}_source",
                [unclamped, graph.Scalar($"preprocess.{what}_min", 0f), graph.Node("Squeeze", $"preprocess.{what}_max", [Cast(lastIndex, DataType.Float, $"{what}_last_float")])]);
            string floor = Op("Floor", $"{what}_floor", source);
            string first = Cast(floor, DataType.Int64, $"{what}_first");
            string second = Op("Min", $"{what}_second", Op("Add", $"{what}_next", first, one), lastIndex);
            return (size, first, second, Op("Sub", $"{what}_weight", source, floor));
        }
        var rows = Taps(height, "rows");
        var columns = Taps(width, "columns");

        // The four taps of every canvas pixel, gathered as bytes and blended in float32 as Render blends them.
        string Gather(string input, string indices, long axis, string what) => graph.Node("Gather", $"preprocess.{what}", [input, indices], ("axis", axis));
        string top = Gather(image, rows.First, 0, "top"), bottom = Gather(image, rows.Second, 0, "bottom");
        string Tap(string row, string column, string what) => Cast(Gather(row, column, 1, what), DataType.Float, $"{what}_float");
        string topLeft = Tap(top, columns.First, "top_left"), topRight = Tap(top, columns.Second, "top_right");
        string bottomLeft = Tap(bottom, columns.First, "bottom_left"), bottomRight = Tap(bottom, columns.Second, "bottom_right");
        string wy = graph.Node("Unsqueeze", "preprocess.wy", [rows.Weight, graph.Int64s("preprocess.wy_axes", 1, 2)]);
        string wx = graph.Node("Unsqueeze", "preprocess.wx", [columns.Weight, graph.Int64s("preprocess.wx_axes", 0, 2)]);
        string unit = Float(1, "blend_unit");
        string oneMinusWy = Op("Sub", "one_minus_wy", unit, wy), oneMinusWx = Op("Sub", "one_minus_wx", unit, wx);
        string blended = Op("Add", "blend3",
            Op("Add", "blend2",
                Op("Add", "blend1",
                    Op("Mul", "term00", Op("Mul", "w00", oneMinusWy, oneMinusWx), topLeft),
                    Op("Mul", "term01", Op("Mul", "w01", oneMinusWy, wx), topRight)),
                Op("Mul", "term10", Op("Mul", "w10", wy, oneMinusWx), bottomLeft)),
            Op("Mul", "term11", Op("Mul", "w11", wy, wx), bottomRight));

        var multiplier = new float[3];
        var shift = new float[3];
        for (int c = 0; c < 3; c++) (multiplier[c], shift[c]) = (1f / (255f * _std[c]), _mean[c] / _std[c]);
        string normalised = Op("Sub", "normalised", Op("Mul", "scaled_values", blended, graph.Weight("preprocess.multiplier", multiplier, 3)), graph.Weight("preprocess.shift", shift, 3));
        string planes = graph.Node("Unsqueeze", "preprocess.batch", [graph.Node("Transpose", "preprocess.planes", [normalised], ("perm", new long[] { 2, 0, 1 })), graph.Int64s("preprocess.batch_axis", 0)]);

        string sizes = graph.Node("Concat", "preprocess.resized_size_int", [rows.Size, columns.Size], ("axis", 0L));
        string canvas = graph.PadToMultiple("preprocess.canvas", planes, sizes, _sizeMultiple);
        string resizedSize = Cast(sizes, DataType.Float, "resized_size");
        return (canvas, resizedSize, scale);
    }

    /// <summary>Rounds up to the size multiple.</summary>
    public int RoundUp(int value) => (value + _sizeMultiple - 1) / _sizeMultiple * _sizeMultiple;

    private void ResizeNormalise(MLImage image, ImageTransform transform, int height, int width, int canvasWidth, int plane, Span<float> destination)
    {
        ReadOnlySpan<byte> source = image.Pixels;
        int sourceWidth = image.Width, sourceHeight = image.Height;
        if (source.Length != sourceWidth * sourceHeight * 4)
            throw new ArgumentException($"Image of {sourceWidth}x{sourceHeight} has {source.Length} bytes of pixels; expected 4 per pixel ({image.PixelFormat}).");
        (int r, int g, int b) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 1, 0),
            MLPixelFormat.Rgba32 => (0, 1, 2),
            _ => throw new ArgumentException($"Image pixel format {image.PixelFormat} is not supported; expected Bgra32 or Rgba32."),
        };
        var scaleR = 1f / (255f * _std[0]); var scaleG = 1f / (255f * _std[1]); var scaleB = 1f / (255f * _std[2]);
        float shiftR = _mean[0] / _std[0], shiftG = _mean[1] / _std[1], shiftB = _mean[2] / _std[2];
        float inverse = 1f / transform.Scale;
        float scaledWidth = sourceWidth * transform.Scale;

        // Horizontal taps are the same for every row: compute them once.
        var left = new int[width]; var right = new int[width]; var weightRight = new float[width];
        for (int x = 0; x < width; x++)
        {
            // Canvas x -> scaled-image x (mirrored if flipped) -> source x, at pixel centres.
            float scaledX = x + transform.OffsetX + 0.5f;
            if (transform.Flip) scaledX = scaledWidth - scaledX;
            float sx = Math.Clamp(scaledX * inverse - 0.5f, 0, sourceWidth - 1);
            left[x] = (int)sx;
            right[x] = Math.Min(left[x] + 1, sourceWidth - 1);
            weightRight[x] = sx - left[x];
        }
        for (int y = 0; y < height; y++)
        {
            float sy = Math.Clamp((y + transform.OffsetY + 0.5f) * inverse - 0.5f, 0, sourceHeight - 1);
            int top = (int)sy, bottom = Math.Min(top + 1, sourceHeight - 1);
            float wy = sy - top;
            var rowTop = source.Slice(top * sourceWidth * 4, sourceWidth * 4);
            var rowBottom = source.Slice(bottom * sourceWidth * 4, sourceWidth * 4);
            int offset = y * canvasWidth;
            for (int x = 0; x < width; x++)
            {
                int a = left[x] * 4, c = right[x] * 4;
                float wx = weightRight[x];
                float w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
                float red = w00 * rowTop[a + r] + w01 * rowTop[c + r] + w10 * rowBottom[a + r] + w11 * rowBottom[c + r];
                float green = w00 * rowTop[a + g] + w01 * rowTop[c + g] + w10 * rowBottom[a + g] + w11 * rowBottom[c + g];
                float blue = w00 * rowTop[a + b] + w01 * rowTop[c + b] + w10 * rowBottom[a + b] + w11 * rowBottom[c + b];
                destination[offset + x] = red * scaleR - shiftR;
                destination[plane + offset + x] = green * scaleG - shiftG;
                destination[2 * plane + offset + x] = blue * scaleB - shiftB;
            }
        }
    }
}

/// <summary>
/// Where an image lands on the encoder's canvas: scaled by <see cref="Scale"/>, mirrored
/// left-right if <see cref="Flip"/>, then shifted so that scaled pixel (OffsetX, OffsetY) is at the
/// canvas origin (a crop when positive). Boxes follow the same map.
/// </summary>
internal readonly record struct ImageTransform(float Scale, int OffsetX, int OffsetY, bool Flip);
