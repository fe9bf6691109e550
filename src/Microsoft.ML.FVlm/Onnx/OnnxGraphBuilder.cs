using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.FVlm.Onnx.Proto;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Onnx;

/// <summary>
/// Builds one ONNX model of the default operator set (<see cref="Opset"/>): typed inputs, weights as
/// initializers, nodes, outputs. The head's modules add themselves to it next to their <c>forward</c>
/// (<c>Export</c>), so that what runs in TorchSharp and what the graph computes are read side by side. Every value
/// name is unique in the graph: a name asked for twice gets a numbered suffix.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX operator set the graphs use (17: RoiAlign's half-pixel mode needs 16).</summary>
    public const int Opset = 17;

    /// <summary>The IR version written (8: the one of opsets 15 to 18).</summary>
    public const long IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    // Per included model (by reference), its initializers' names in this graph: a model included again shares them.
    private readonly Dictionary<ModelProto, Dictionary<string, string>> _includedWeights = new(ReferenceEqualityComparer.Instance);

    /// <param name="name">The graph's name.</param>
    public OnnxGraphBuilder(string name) => _graph = new GraphProto { Name = name };

    /// <summary>Declares a graph input and returns its name.</summary>
    /// <param name="name">The input's name (unique).</param>
    /// <param name="type">Its element type.</param>
    /// <param name="dims">Per dimension: a size (<see cref="long"/> or <see cref="int"/>) or a symbolic name (<see cref="string"/>).</param>
    public string Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        if (!_names.Add(name)) throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>
    /// Declares a graph input with a default: an initializer of the same name, which ONNX Runtime uses when the input is
    /// not fed (IR version 4 and later).
    /// </summary>
    public string Input(string name, TensorProto.Types.DataType type, Array defaultValue)
    {
        string value = defaultValue switch
        {
            float[] floats => Weight(name, floats, floats.Length),
            long[] longs => Int64s(name, longs),
            _ => throw new ArgumentException($"Input '{name}': a default of {defaultValue.GetType().Name} is not written; float[] or long[] are.", nameof(defaultValue)),
        };
        if (value != name) throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
        _graph.Input.Add(ValueInfo(name, type, [(long)defaultValue.Length]));
        return name;
    }

    /// <summary>Declares a graph input of element type <paramref name="type"/> whose shape the graph does not state.</summary>
    public string InputOfAnyShape(string name, TensorProto.Types.DataType type)
    {
        if (!_names.Add(name)) throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
        _graph.Input.Add(ValueInfo(name, type, null));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> a graph output named <paramref name="name"/> whose shape the graph does not state.</summary>
    public string OutputOfAnyShape(string value, string name, TensorProto.Types.DataType type) => Output(value, name, type, (object[]?)null);

    /// <summary>Declares <paramref name="value"/> a graph output named <paramref name="name"/> (through an Identity node when the names differ).</summary>
    public string Output(string value, string name, TensorProto.Types.DataType type, params object[]? dims)
    {
        if (value != name)
        {
            if (!_names.Add(name)) throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
            _graph.Node.Add(new NodeProto { OpType = "Identity", Name = name, Input = { value }, Output = { name } });
        }
        _graph.Output.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>A float32 weight from a TorchSharp tensor (any device), with its shape.</summary>
    public string Weight(string name, Tensor tensor)
    {
        using var cpu = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
        return Weight(name, cpu.data<float>().ToArray(), cpu.shape);
    }

    /// <summary>A float32 weight of shape <paramref name="dims"/>.</summary>
    public string Weight(string name, ReadOnlySpan<float> values, params long[] dims) =>
        Initializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>A one-dimensional int64 constant (shapes, axes, indices).</summary>
    public string Int64s(string name, params long[] values) =>
        Initializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()), values.Length, [values.Length]);

    /// <summary>A float32 scalar constant (a tensor of rank 0, as Range and Clip take).</summary>
    public string Scalar(string name, float value) =>
        Initializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), 1, []);

    /// <summary>A float64 scalar constant (a tensor of rank 0), for arithmetic the library does in double.</summary>
    public string Scalar(string name, double value) =>
        Initializer(name, TensorProto.Types.DataType.Double, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), 1, []);

    /// <summary>An int64 scalar constant (a tensor of rank 0).</summary>
    public string Scalar(string name, long value) =>
        Initializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), 1, []);

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    /// <param name="opType">The operator (default domain).</param>
    /// <param name="name">The node's name; its output is named after it.</param>
    /// <param name="inputs">Input value names; "" for an omitted optional input.</param>
    /// <param name="attributes">Name and value: long or int (INT), long[] (INTS), float or double (FLOAT), float[] (FLOATS), string (STRING).</param>
    public string Node(string opType, string name, IEnumerable<string> inputs, params (string Name, object Value)[] attributes) =>
        Node(opType, name, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public string[] Node(string opType, string name, IEnumerable<string> inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        string nodeName = Unique(name);
        var node = new NodeProto { OpType = opType, Name = nodeName, Input = { inputs } };
        var names = Enumerable.Range(0, outputs).Select(i => outputs == 1 ? nodeName : Unique($"{nodeName}:{i}")).ToArray();
        node.Output.Add(names);
        foreach (var (attribute, value) in attributes) node.Attribute.Add(Attribute(attribute, value));
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>
    /// Adds another model's graph (e.g. a VLM folder's own graph) to this one: its weights and nodes, every value renamed
    /// under <paramref name="prefix"/>, its inputs bound to <paramref name="inputs"/>. The model must use only the default
    /// operator set, at a version from 13 to <see cref="Opset"/> (whose operators this graph's opset still defines the
    /// same way), and no subgraphs. The same model object included again (the image tower at another scale) adds its
    /// nodes again and shares the weights the first inclusion added.
    /// </summary>
    /// <param name="model">The model to include.</param>
    /// <param name="prefix">Prefix of the included values' names.</param>
    /// <param name="inputs">Per input of the included graph, the value of this graph it reads.</param>
    /// <returns>Per output of the included graph, its value in this graph.</returns>
    public IReadOnlyDictionary<string, string> Include(ModelProto model, string prefix, IReadOnlyDictionary<string, string> inputs)
    {
        CheckIncludable(model);
        string source = model.Graph.Name;
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [""] = "" };
        foreach (var input in graph.Input.Where(i => !initializers.Contains(i.Name)))
            names[input.Name] = inputs.TryGetValue(input.Name, out var bound) ? bound
                : throw new ArgumentException($"Graph '{source}' reads input '{input.Name}', which is not bound.", nameof(inputs));
        if (!_includedWeights.TryGetValue(model, out var weights))
        {
            weights = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var initializer in graph.Initializer)
            {
                var copy = initializer.Clone();
                copy.Name = weights[initializer.Name] = Unique($"{prefix}.{initializer.Name}");
                _graph.Initializer.Add(copy);
            }
            _includedWeights.Add(model, weights);
        }
        foreach (var (name, renamed) in weights) names[name] = renamed;
        string Rename(string value) => names.TryGetValue(value, out var renamed) ? renamed
            : throw new ArgumentException($"Graph '{source}' reads '{value}' before any node writes it.", nameof(model));
        foreach (var node in graph.Node)
        {
            var copy = node.Clone();
            copy.Name = Unique($"{prefix}.{(node.Name.Length > 0 ? node.Name : node.OpType)}");
            copy.Input.Clear();
            copy.Input.Add(node.Input.Select(Rename));
            copy.Output.Clear();
            copy.Output.Add(node.Output.Select(o => o.Length == 0 ? "" : names[o] = Unique($"{prefix}.{o}")));
            _graph.Node.Add(copy);
        }
        return graph.Output.ToDictionary(o => o.Name, o => Rename(o.Name), StringComparer.Ordinal);
    }

    /// <summary>
    /// Checks that <paramref name="model"/> can be included (<see cref="Include"/>): the default operator set at a version
    /// from 13 to <see cref="Opset"/>, no subgraph, no attribute but numbers, strings and dense tensors, and no value kept
    /// in an external file (a graph from a model zip is untrusted: it may not make ONNX Runtime read a file).
    /// </summary>
    /// <exception cref="ArgumentException">What the model holds that cannot be included.</exception>
    public static void CheckIncludable(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new ArgumentException("The model has no graph.", nameof(model));
        string source = graph.Name;
        if (model.OpsetImport.Any(o => o.Domain is not ("" or "ai.onnx") || o.Version is < 13 or > Opset))
            throw new ArgumentException($"Graph '{source}' uses operator sets {string.Join(", ", model.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"))}; "
                + $"only the default set, versions 13 to {Opset}, can be included.", nameof(model));
        foreach (var node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx"))
                throw new ArgumentException($"Graph '{source}' has node '{node.Name}' ({node.OpType}) of operator domain '{node.Domain}'; only the default domain can be included.", nameof(model));
            if (node.Attribute.FirstOrDefault(a => a.Type is < AttributeProto.Types.AttributeType.Float or > AttributeProto.Types.AttributeType.Tensors
                    or AttributeProto.Types.AttributeType.Graph || a.G is not null || a.Graphs.Count > 0) is { } attribute)
                throw new ArgumentException($"Graph '{source}' has a subgraph, sparse tensor or other attribute of type {(int)attribute.Type} ('{attribute.Name}') in node '{node.Name}' "
                    + $"({node.OpType}), which cannot be included.", nameof(model));
        }
        if (graph.Initializer.Concat(graph.Node.SelectMany(n => n.Attribute).SelectMany(a => a.Tensors.Append(a.T ?? new TensorProto())))
            .FirstOrDefault(t => t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0) is { } external)
            throw new ArgumentException($"Graph '{source}' keeps the values of '{external.Name}' in an external file, which is not read; include a graph that holds its values.", nameof(model));
    }

    /// <summary>The model: this graph, the default operator set at <see cref="Opset"/>, and <paramref name="metadata"/> as metadata properties.</summary>
    public ModelProto Build(IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Microsoft.ML.FVlm",
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString() ?? "",
            Graph = _graph.Clone(),
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
        };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    private string Initializer(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> littleEndian, int count, long[] dims)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this machine is not.");
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count) throw new ArgumentException($"Weight '{name}' has {count} values for the shape [{string.Join(", ", dims)}] ({expected}).", nameof(dims));
        string unique = Unique(name);
        _graph.Initializer.Add(new TensorProto { Name = unique, DataType = (int)type, Dims = { dims }, RawData = ByteString.CopyFrom(littleEndian) });
        return unique;
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !_names.Add(candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    /// <param name="name">The value's name.</param>
    /// <param name="type">Its element type.</param>
    /// <param name="dims">Per dimension a size or a symbolic name; null for a shape the graph does not state.</param>
    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[]? dims)
    {
        if (dims is null) return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } };
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(dim switch
            {
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => throw new ArgumentException($"Dimension {dim} of '{name}' is neither a size nor a symbolic name.", nameof(dims)),
            });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static AttributeProto Attribute(string name, object value) => value switch
    {
        long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        int i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
        double f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)f },
        string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
        long[] ints => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ints } },
        float[] floats => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats, Floats = { floats } },
        _ => throw new ArgumentException($"Attribute '{name}' has a value of type {value.GetType().Name}, which the graph builder does not write.", nameof(value)),
    };
}
