using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Onnx;

/// <summary>The graph nodes of the TorchSharp layers the head is made of, from the layers' weights (their state dictionaries).</summary>
internal static class OnnxModules
{
    /// <summary>The epsilon of every batch norm in the head (TorchSharp's default for <c>BatchNorm2d</c>).</summary>
    public const double BatchNormEpsilon = 1e-5;

    /// <summary>
    /// A conv followed by a batch norm in evaluation mode, as one Conv: the batch norm's scale
    /// <c>gamma / sqrt(running_var + eps)</c> multiplies each output channel's kernel, and its shift
    /// <c>beta - running_mean * scale</c> (plus the conv's own bias times the scale) becomes the bias. Folded in float64.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The node's name.</param>
    /// <param name="state">The state dictionary holding both layers.</param>
    /// <param name="conv">The conv's prefix in <paramref name="state"/> (its weight is <c>{conv}.weight</c>).</param>
    /// <param name="batchNorm">The batch norm's prefix in <paramref name="state"/>.</param>
    /// <param name="input">The input value [N, C_in, H, W].</param>
    /// <param name="padding">Zero padding on every side.</param>
    public static string ConvBatchNorm(this OnnxGraphBuilder graph, string name, IReadOnlyDictionary<string, Tensor> state, string conv, string batchNorm,
        string input, long padding)
    {
        using var scope = NewDisposeScope();
        Tensor Get(string key) => state.TryGetValue(key, out var value) ? value.detach().to(ScalarType.Float64)
            : throw new ArgumentException($"The state dictionary has no '{key}' for the graph node '{name}'.", nameof(state));
        var scale = Get($"{batchNorm}.weight") / (Get($"{batchNorm}.running_var") + BatchNormEpsilon).sqrt();
        var bias = Get($"{batchNorm}.bias") - Get($"{batchNorm}.running_mean") * scale;
        if (state.ContainsKey($"{conv}.bias")) bias += Get($"{conv}.bias") * scale;
        return graph.Conv(name, input, Get($"{conv}.weight") * scale.reshape(-1, 1, 1, 1), bias, padding);
    }

    /// <summary>
    /// <see cref="Modeling.ConvStack"/>: <paramref name="depth"/> blocks of a 3x3 conv (padding 1), a batch norm and a ReLU,
    /// each batch norm folded into its conv.
    /// </summary>
    public static string ConvStack(this OnnxGraphBuilder graph, string name, nn.Module stack, string input, int depth = 4)
    {
        var state = stack.state_dict();
        string value = input;
        for (int i = 0; i < depth; i++)
            value = graph.Node("Relu", $"{name}.{i}.relu", [graph.ConvBatchNorm($"{name}.{i}", state, $"{3 * i}", $"{3 * i + 1}", value, padding: 1)]);
        return value;
    }

    /// <summary>A fully connected layer <c>x W^T + b</c> on [R, in] (ONNX Gemm with a transposed weight); the bias is optional.</summary>
    public static string Linear(this OnnxGraphBuilder graph, string name, string input, Tensor weight, Tensor? bias)
    {
        var inputs = new List<string> { input, graph.Weight(name + ".weight", weight) };
        if (bias is not null) inputs.Add(graph.Weight(name + ".bias", bias));
        return graph.Node("Gemm", name, inputs, ("transB", 1L));
    }

    /// <summary>
    /// Zero-pads an image batch [N, C, H, W] at the bottom and right to sides that are multiples of
    /// <paramref name="multiple"/> (the encoder's canvas: zero is the mean colour once normalised).
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The prefix of the nodes' names.</param>
    /// <param name="image">The value [N, C, H, W].</param>
    /// <param name="sides">The value [2] (int64): H and W.</param>
    /// <param name="multiple">The size multiple.</param>
    public static string PadToMultiple(this OnnxGraphBuilder graph, string name, string image, string sides, int multiple)
    {
        string step = graph.Int64s($"{name}.multiple", multiple);
        string rounded = graph.Node("Mul", $"{name}.padded", [graph.Node("Div", $"{name}.blocks",
            [graph.Node("Add", $"{name}.rounded_up", [sides, graph.Int64s($"{name}.multiple_less_one", multiple - 1)]), step]), step]);
        string pads = graph.Node("Concat", $"{name}.pads", [graph.Int64s($"{name}.pads_start", 0, 0, 0, 0, 0, 0),
            graph.Node("Sub", $"{name}.padding", [rounded, sides])], ("axis", 0L));
        return graph.Node("Pad", name, [image, pads], ("mode", "constant"));
    }

    /// <summary>
    /// PyTorch's <c>functional.normalize(x, dim: -1)</c>: <c>x / max(||x||_2, 1e-12)</c> along the last axis.
    /// </summary>
    public static string Normalize(this OnnxGraphBuilder graph, string name, string input)
    {
        string norm = graph.Node("ReduceL2", $"{name}.norm", [input], ("axes", new[] { -1L }), ("keepdims", 1L));
        string floor = graph.Weight($"{name}.eps", [1e-12f]);
        return graph.Node("Div", name, [input, graph.Node("Max", $"{name}.clamped", [norm, floor])]);
    }

    /// <summary>
    /// <see cref="Ops.RoiAlign"/> (torchvision's <c>aligned=True</c>) as ONNX RoiAlign: average pooling, half-pixel
    /// coordinates (operator set 16 and later), a fixed number of samples per bin side.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="name">The node's name.</param>
    /// <param name="features">The value [N, C, H, W].</param>
    /// <param name="boxes">The value [R, 4]: x0 y0 x1 y1 in input pixels.</param>
    /// <param name="batchIndices">The value [R] (int64): the image of each box.</param>
    /// <param name="outputSize">Bins per side.</param>
    /// <param name="spatialScale">Map cells per input pixel (1 / stride).</param>
    /// <param name="samplingRatio">Samples per bin per side.</param>
    public static string RoiAlign(this OnnxGraphBuilder graph, string name, string features, string boxes, string batchIndices, int outputSize,
        double spatialScale, int samplingRatio) =>
        graph.Node("RoiAlign", name, [features, boxes, batchIndices],
            ("mode", "avg"), ("coordinate_transformation_mode", "half_pixel"),
            ("output_height", (long)outputSize), ("output_width", (long)outputSize),
            ("sampling_ratio", (long)samplingRatio), ("spatial_scale", (float)spatialScale));

    /// <summary>A conv's weights in the graph, written once for every node that applies them (the RPN head runs on every level).</summary>
    /// <param name="Weight">The kernel [C_out, C_in, kH, kW].</param>
    /// <param name="Bias">The bias [C_out], if any.</param>
    /// <param name="Kernel">(kH, kW).</param>
    public sealed record ConvWeights(string Weight, string? Bias, long[] Kernel);

    /// <summary>Writes a conv's kernel [C_out, C_in, kH, kW] and optional bias [C_out] as weights.</summary>
    public static ConvWeights ConvWeightsOf(this OnnxGraphBuilder graph, string name, Tensor weight, Tensor? bias) =>
        new(graph.Weight(name + ".weight", weight), bias is null ? null : graph.Weight(name + ".bias", bias), [weight.shape[2], weight.shape[3]]);

    /// <summary>A 2-D convolution of stride <paramref name="stride"/> with <paramref name="weight"/> [C_out, C_in, kH, kW] and an optional bias [C_out].</summary>
    public static string Conv(this OnnxGraphBuilder graph, string name, string input, Tensor weight, Tensor? bias, long padding, long stride = 1) =>
        graph.Conv(name, input, graph.ConvWeightsOf(name, weight, bias), padding, stride);

    /// <summary>A 2-D convolution with weights already in the graph.</summary>
    public static string Conv(this OnnxGraphBuilder graph, string name, string input, ConvWeights weights, long padding, long stride = 1)
    {
        var inputs = new List<string> { input, weights.Weight };
        if (weights.Bias is not null) inputs.Add(weights.Bias);
        return graph.Node("Conv", name, inputs,
            ("kernel_shape", weights.Kernel),
            ("pads", new[] { padding, padding, padding, padding }),
            ("strides", new[] { stride, stride }));
    }
}
