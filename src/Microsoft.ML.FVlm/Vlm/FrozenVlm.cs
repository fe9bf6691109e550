using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// A frozen vision-language model behind the project's contract (docs/vlm-contract.md): the image
/// encoder's feature maps, region embeddings, and text embeddings, computed by ONNX Runtime into
/// TorchSharp tensors. Opening a folder validates the manifest and every graph's tensors.
/// Thread-safe: ONNX Runtime sessions may run concurrently.
/// </summary>
internal sealed class FrozenVlm : IDisposable
{
    /// <summary>RoIAlign samples per bin per side for region embeddings (torchvision's <c>sampling_ratio</c>).</summary>
    public const int RegionSamplingRatio = 2;

    private readonly OnnxGraph _image;
    private readonly OnnxGraph _pooler;
    private readonly OnnxGraph _text;
    private readonly OnnxGraph? _projector;
    private readonly OnnxGraph? _attention;
    private readonly string[] _featureNames;
    private readonly byte[] _manifestBytes;
    private readonly Dictionary<string, (long Length, DateTime Modified)> _fileStamps;


    private FrozenVlm(string folder, VlmManifest manifest, OnnxGraph image, OnnxGraph pooler, OnnxGraph text,
        (OnnxGraph Projector, OnnxGraph Attention)? factorized, ClipTokenizer tokenizer, IReadOnlyList<string> templates,
        byte[] manifestBytes, Dictionary<string, (long, DateTime)> fileStamps)
    {
        Folder = folder;
        (_manifestBytes, _fileStamps) = (manifestBytes, fileStamps);
        Manifest = manifest;
        _image = image;
        _pooler = pooler;
        _text = text;
        (_projector, _attention) = (factorized?.Projector, factorized?.Attention);
        Tokenizer = tokenizer;
        PromptTemplates = templates;
        _featureNames = manifest.ImageEncoder.FeatureLevels.Select(l => l.Name).ToArray();
        Preprocessor = new ImagePreprocessor(manifest);
        TextEmbeddings = new TextEmbeddingCache(this);
    }

    /// <summary>The folder the model was read from.</summary>
    public string Folder { get; }

    public VlmManifest Manifest { get; }

    public ClipTokenizer Tokenizer { get; }

    /// <summary>Prompt templates for class names (<c>{}</c> is the name): the folder's templates file, or just <c>{}</c>.</summary>
    public IReadOnlyList<string> PromptTemplates { get; }

    public ImagePreprocessor Preprocessor { get; }

    /// <summary>Prompt-ensembled, normalised class-name embeddings, cached per name.</summary>
    public TextEmbeddingCache TextEmbeddings { get; }

    /// <summary>Bytes of RoIAlign output handed to a region graph at once: boxes are embedded in chunks of about this size (64 MB).</summary>
    internal long RoiChunkBytes { get; set; } = 64L << 20;

    /// <summary>How the folder's sessions were opened (device, threads): other sessions of this VLM's model open the same way.</summary>
    internal VlmSessionOptions SessionOptions { get; private set; } = new();

    /// <summary>True when the graphs run on a CUDA device.</summary>
    public bool RunsOnGpu => _image.RunsOnGpu;

    /// <summary>Opens and validates a VLM folder.</summary>
    /// <exception cref="FileNotFoundException">A file named by the contract or the manifest is missing.</exception>
    /// <exception cref="InvalidDataException">The manifest or a graph does not match the contract; the message names the file and tensor.</exception>
    public static FrozenVlm Load(string folder, VlmSessionOptions? options = null)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"VLM folder '{folder}' does not exist.");
        options ??= new VlmSessionOptions();
        var (manifest, manifestBytes) = VlmManifest.LoadWithBytes(FileInFolder(folder, "manifest.json"));
        // Every file is checked before any is opened: none may lead outside the folder.
        var paths = manifest.FileNames.Distinct().ToDictionary(f => f, f => FileInFolder(folder, f));
        var tokenizer = ClipTokenizer.FromMergesFile(paths[manifest.Tokenizer.MergesFile], manifest.Tokenizer.MergeCount);
        var templates = LoadTemplates(manifest.TextEncoder.PromptTemplatesFile is { } templatesFile ? paths[templatesFile] : null);

        var graphs = new List<OnnxGraph>();
        try
        {
            var image = Open(manifest.ImageEncoder.File);
            var pooler = Open(manifest.RegionPooler.File);
            var text = Open(manifest.TextEncoder.File);
            Validate(manifest, image, pooler, text);
            (OnnxGraph, OnnxGraph)? factorized = null;
            if (manifest.RegionProjector is { } projectorSection)
            {
                var projector = Open(projectorSection.File);
                var attention = Open(manifest.RegionAttention!.File);
                ValidateFactorized(manifest, projector, attention);
                factorized = (projector, attention);
            }
            var stamps = manifest.FileNames.Skip(1).Distinct().ToDictionary(f => f, f =>
            {
                var info = new FileInfo(paths[f]);
                return (info.Length, info.LastWriteTimeUtc);
            });
            var vlm = new FrozenVlm(folder, manifest, image, pooler, text, factorized, tokenizer, templates, manifestBytes, stamps) { SessionOptions = options };
            if (factorized is not null) vlm.CheckFactorizedPathMatchesThePooler();
            return vlm;
        }
        catch
        {
            foreach (var graph in graphs) graph.Dispose();
            throw;
        }

        OnnxGraph Open(string file)
        {
            var graph = OnnxGraph.Open(paths[file], options);
            graphs.Add(graph);
            return graph;
        }
    }

    /// <summary>
    /// The path of the file <paramref name="name"/> (a plain file name, as the manifest's validation
    /// requires) in <paramref name="folder"/>, checked not to be a link to a file outside the folder.
    /// </summary>
    /// <exception cref="InvalidDataException">The name has a directory part, or the file is a link that leads outside the folder.</exception>
    internal static string FileInFolder(string folder, string name)
    {
        if (!VlmManifest.IsFileNameInFolder(name))
            throw new InvalidDataException($"VLM folder '{folder}': '{name}' is not the name of a file in the folder (no directory part, no '..', not an absolute path).");
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string path = Path.Combine(root, name);
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !string.Equals(Path.GetDirectoryName(target.FullName), root, StringComparison.Ordinal))
                throw new InvalidDataException($"VLM folder '{folder}': '{name}' is a link to '{target?.FullName ?? info.LinkTarget}', outside the folder; the folder's files must be in it.");
        }
        return path;
    }

    private static IReadOnlyList<string> LoadTemplates(string? path)
    {
        if (path is null) return ["{}"];
        if (!File.Exists(path)) throw new FileNotFoundException($"Prompt templates file '{path}' named by the manifest does not exist.", path);
        var templates = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToArray();
        // The message names the line, not its text: a file that fails validation is not echoed.
        for (int i = 0; i < templates.Length; i++)
            if (!templates[i].Contains("{}", StringComparison.Ordinal))
                throw new InvalidDataException($"Prompt templates file '{path}': template {i + 1} has no {{}} for the class name.");
        if (templates.Length == 0) throw new InvalidDataException($"Prompt templates file '{path}' has no templates.");
        return templates;
    }

    private static void Validate(VlmManifest manifest, OnnxGraph image, OnnxGraph pooler, OnnxGraph text)
    {
        image.ExpectInput(manifest.ImageEncoder.Input, TensorElementType.Float, null, 3, null, null);
        foreach (var level in manifest.ImageEncoder.FeatureLevels)
            image.ExpectOutput(level.Name, TensorElementType.Float, null, level.Channels, null, null);
        var region = manifest.RegionLevel;
        int g = manifest.RegionPooler.RoiOutputSize;
        pooler.ExpectInput(manifest.RegionPooler.Input, TensorElementType.Float, null, region.Channels, g, g);
        pooler.ExpectOutput(manifest.RegionPooler.Output, TensorElementType.Float, null, manifest.EmbeddingDim);
        text.ExpectInput(manifest.TextEncoder.Input, TensorElementType.Int64, null, manifest.TextEncoder.ContextLength);
        text.ExpectOutput(manifest.TextEncoder.Output, TensorElementType.Float, null, manifest.EmbeddingDim);
    }

    private static void ValidateFactorized(VlmManifest manifest, OnnxGraph projector, OnnxGraph attention)
    {
        var projection = manifest.RegionProjector!;
        int g = manifest.RegionPooler.RoiOutputSize;
        projector.ExpectInput(projection.Input, TensorElementType.Float, null, manifest.RegionLevel.Channels, null, null);
        projector.ExpectOutput(projection.Output, TensorElementType.Float, null, projection.Channels, null, null);
        attention.ExpectInput(manifest.RegionAttention!.Input, TensorElementType.Float, null, g, g, projection.Channels);
        attention.ExpectOutput(manifest.RegionAttention.Output, TensorElementType.Float, null, manifest.EmbeddingDim);
    }

    /// <summary>
    /// The factorized graphs must be the pooler's own linear parts, not another export's: on a fixed
    /// pseudo-random map, the two paths' embeddings of a few boxes agree to 1e-4 of their scale. Both
    /// paths run on the folder's open sessions with the C# RoIAlign (<see cref="RegionEmbedder"/>'s), so
    /// that opening a folder needs ONNX Runtime only.
    /// </summary>
    private unsafe void CheckFactorizedPathMatchesThePooler()
    {
        var level = Manifest.RegionLevel;
        int g = Manifest.RegionPooler.RoiOutputSize, side = g + 2, channels = level.Channels, projected = Manifest.RegionProjector!.Channels;
        float extent = side * level.Stride;
        float[] corners = [0, 0, extent, extent, extent / 4, extent / 3, extent * 0.9f, extent * 0.8f];
        // A standard normal map [C, side, side] (Box-Muller on a seeded generator).
        var random = new Random(20261127);
        var map = new float[channels * side * side];
        for (int i = 0; i < map.Length; i++)
            map[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));

        // The pooler on RoIAlign of the map.
        var rois = new float[2 * g * g * channels];
        fixed (float* channelsLast = Transpose(map, channels, side * side))
            DirectRoiAlign.ForwardChannelsLast(channelsLast, side, side, channels, corners, 0, 2, g, 1.0 / level.Stride, RegionSamplingRatio, rois);
        var pooledInput = new float[rois.Length];
        for (int box = 0; box < 2; box++)
            Transpose(rois.AsSpan(box * g * g * channels, g * g * channels), g * g, channels).CopyTo(pooledInput, box * g * g * channels);
        var expected = RunValues(_pooler, Manifest.RegionPooler.Input, pooledInput.AsMemory(), [2, channels, g, g], Manifest.RegionPooler.Output, [2, Manifest.EmbeddingDim]);

        // The factorized path: the projector on the map, then what the detector runs.
        float[] projectedMap = Transpose(RunValues(_projector!, Manifest.RegionProjector.Input, map.AsMemory(), [1, channels, side, side],
            Manifest.RegionProjector.Output, [1, projected, side, side]), projected, side * side);
        float[] actual;
        fixed (float* data = projectedMap)
            actual = RegionEmbedder.EmbedUnnormalised(this, new RegionEmbedder.ProjectedMap((IntPtr)data, side, side, projected), corners);

        double scale = 0, error = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            error = Math.Max(error, Math.Abs(actual[i] - expected[i]));
        }
        if (!(error <= 1e-4 * Math.Max(scale, 1e-12)))
            throw new InvalidDataException($"VLM folder '{Folder}': {Manifest.RegionProjector.File} and {Manifest.RegionAttention!.File} do not reproduce {Manifest.RegionPooler.File} " +
                $"(relative difference {error / scale:G3} on a test map); they belong to another export. Export the folder again, or remove region_projector and region_attention from the manifest.");
    }

    /// <summary>A [rows, columns] matrix, row by row, as [columns, rows].</summary>
    private static float[] Transpose(ReadOnlySpan<float> matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
        return result;
    }

    /// <summary>Runs <paramref name="graph"/> on one input of <paramref name="inputShape"/> into a new float32 output of <paramref name="outputShape"/>, without TorchSharp.</summary>
    private static float[] RunValues<T>(OnnxGraph graph, string inputName, Memory<T> input, long[] inputShape, string outputName, long[] outputShape) where T : unmanaged
    {
        var output = new float[outputShape.Aggregate(1L, (a, b) => a * b)];
        if (output.Length == 0) return output;
        using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, inputShape);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        using var runOptions = new RunOptions();
        graph.Session.Run(runOptions, [inputName], [inputValue], [outputName], [outputValue]);
        return output;
    }

    /// <summary>
    /// Opens one of <see cref="VlmManifest.FileNames"/> as it was when the folder was loaded: the
    /// manifest from memory, any other file from the folder after checking that its length and time
    /// are unchanged, so that a model zip never pairs this VLM's manifest with another's graphs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file changed since the folder was loaded.</exception>
    internal Stream OpenLoadedFile(string name)
    {
        if (name == "manifest.json") return new MemoryStream(_manifestBytes, writable: false);
        if (!_fileStamps.TryGetValue(name, out var stamp)) throw new ArgumentException($"'{name}' is not a file of VLM '{Folder}'.", nameof(name));
        var info = new FileInfo(Path.Combine(Folder, name));
        if (!info.Exists || info.Length != stamp.Length || info.LastWriteTimeUtc != stamp.Modified)
            throw new InvalidOperationException($"VLM file '{info.FullName}' changed since the folder was loaded; load the VLM (or the model) again before saving.");
        return info.OpenRead();
    }

    /// <summary>Runs the image encoder.</summary>
    /// <param name="pixelValues">[N, 3, H, W] float32 on the CPU, normalised; H and W multiples of the size multiple.</param>
    /// <returns>One tensor per feature level, fine to coarse: [N, channels, H / stride, W / stride].</returns>
    public Tensor[] EncodeImages(Tensor pixelValues)
    {
        var shape = pixelValues.shape;
        int multiple = Manifest.ImageEncoder.SizeMultiple;
        if (shape.Length != 4 || shape[1] != 3 || shape[2] % multiple != 0 || shape[3] % multiple != 0)
            throw new ArgumentException($"pixel_values must be [N, 3, H, W] with H and W multiples of {multiple}; got [{string.Join(", ", shape)}].", nameof(pixelValues));
        pixelValues = pixelValues.contiguous();
        var levels = Manifest.ImageEncoder.FeatureLevels;
        var outputs = levels.Select(l => empty(shape[0], l.Channels, shape[2] / l.Stride, shape[3] / l.Stride)).ToArray();
        Run(_image, Manifest.ImageEncoder.Input, pixelValues, _featureNames, outputs);
        return outputs;
    }

    /// <summary>Runs the region pooler on RoIAlign outputs.</summary>
    /// <param name="roiFeatures">[R, C, g, g] float32 on the CPU.</param>
    /// <returns>[R, D] region embeddings, not normalised.</returns>
    public Tensor PoolRegions(Tensor roiFeatures)
    {
        int g = Manifest.RegionPooler.RoiOutputSize;
        int channels = Manifest.RegionLevel.Channels;
        var shape = roiFeatures.shape;
        if (shape.Length != 4 || shape[1] != channels || shape[2] != g || shape[3] != g)
            throw new ArgumentException($"roi_features must be [R, {channels}, {g}, {g}]; got [{string.Join(", ", shape)}].", nameof(roiFeatures));
        var output = empty(shape[0], Manifest.EmbeddingDim);
        if (shape[0] > 0) Run(_pooler, Manifest.RegionPooler.Input, roiFeatures.contiguous(), [Manifest.RegionPooler.Output], [output]);
        return output;
    }

    /// <summary>
    /// Region embeddings of boxes in one image: the region pooler on RoIAlign of the region level. With
    /// the factorized path (manifest version 2), the region projector runs once on the whole map, the
    /// projected map is RoIAligned per box and the region attention graph finishes the pooling: the
    /// same embeddings up to rounding, without projecting g * g + 1 tokens per box. Boxes go through
    /// the graphs in chunks of about 64 MB of RoIAlign output.
    /// </summary>
    /// <param name="regionLevel">[1, C, h, w] or [C, h, w]: the region level's map of the image.</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 in encoder-input pixels.</param>
    /// <returns>[R, D], not normalised.</returns>
    public Tensor EmbedRegions(Tensor regionLevel, Tensor boxes)
    {
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"boxes must be [R, 4]; got [{string.Join(", ", boxes.shape)}].", nameof(boxes));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var level = Manifest.RegionLevel;
        int g = Manifest.RegionPooler.RoiOutputSize;
        var map = regionLevel.dim() == 3 ? regionLevel.unsqueeze(0) : regionLevel;
        if (map.dim() != 4 || map.shape[0] != 1 || map.shape[1] != level.Channels)
            throw new ArgumentException($"regionLevel must be one image's '{level.Name}' map, [{level.Channels}, h, w] or [1, {level.Channels}, h, w]; got [{string.Join(", ", regionLevel.shape)}].", nameof(regionLevel));
        // The map is laid out channels last once, for every chunk of boxes. The factorized path projects it
        // first and hands RoIAlign's output to the attention graph as it is; the pooler reads [R, C, g, g].
        bool factorized = _projector is not null;
        using var channelsLast = ChannelsLastMap.From(factorized ? ProjectRegionMap(map) : map);
        Tensor Embed(Tensor chunk)
        {
            var rois = DirectRoiAlign.ForwardChannelsLast(channelsLast, chunk, g, 1.0 / level.Stride, RegionSamplingRatio);
            return factorized ? AttendRegions(rois) : PoolRegions(rois.permute(0, 3, 1, 2));
        }
        long channels = channelsLast.Channels;
        long count = boxes.shape[0];
        long size = Math.Max(1, RoiChunkBytes / (channels * g * g * sizeof(float)));
        if (count <= size) return Embed(boxes).MoveToOuterDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < count; start += size)
        {
            using var inner = NewDisposeScope();
            parts.Add(Embed(boxes.narrow(0, start, Math.Min(size, count - start))).MoveToOuterDisposeScope());
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The region level of a batch at every scale of <paramref name="scaling"/>: the canvas resized
    /// bilinearly by the scale (padded with zeros, the mean colour, to the size multiple) and run
    /// through the image encoder; at scale 1, <paramref name="regionLevel"/> itself.
    /// </summary>
    /// <param name="pixelValues">[N, 3, H, W]: the batch the region level was computed from.</param>
    /// <param name="regionLevel">[N, C, h, w]: its region level at scale 1.</param>
    /// <param name="scaling">The scales.</param>
    /// <returns>One [N, C, h_s, w_s] map per scale, in the order of <see cref="RegionScaling.Scales"/>.</returns>
    public Tensor[] RegionLevelsAtScales(Tensor pixelValues, Tensor regionLevel, RegionScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        int regionIndex = Array.IndexOf(_featureNames, Manifest.RegionPooler.RegionLevel);
        var maps = new Tensor[scaling.Scales.Count];
        for (int s = 0; s < maps.Length; s++)
        {
            double scale = scaling.Scales[s];
            if (scale == 1.0)
            {
                maps[s] = regionLevel;
                continue;
            }
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            long height = pixelValues.shape[2], width = pixelValues.shape[3];
            long scaledHeight = Math.Max(1, (long)Math.Round(height * scale)), scaledWidth = Math.Max(1, (long)Math.Round(width * scale));
            var resized = nn.functional.interpolate(pixelValues, size: [scaledHeight, scaledWidth], mode: InterpolationMode.Bilinear, align_corners: false);
            int multiple = Manifest.ImageEncoder.SizeMultiple;
            long paddedHeight = (scaledHeight + multiple - 1) / multiple * multiple, paddedWidth = (scaledWidth + multiple - 1) / multiple * multiple;
            if (paddedHeight != scaledHeight || paddedWidth != scaledWidth)
                resized = nn.functional.pad(resized, [0, paddedWidth - scaledWidth, 0, paddedHeight - scaledHeight]);
            maps[s] = EncodeImages(resized)[regionIndex].MoveToOuterDisposeScope();
        }
        return maps;
    }

    /// <summary>
    /// Unit region embeddings of boxes in one image from its region level at several scales
    /// (<see cref="RegionLevelsAtScales"/>): each box embedded at the scales <paramref name="scaling"/>
    /// weighs for it, the unit embeddings averaged with those weights and normalised. With
    /// <see cref="RegionScaling.Single"/>, the normalised <see cref="EmbedRegions(Tensor, Tensor)"/>.
    /// </summary>
    /// <param name="regionLevels">Per scale, [1, C, h_s, w_s] or [C, h_s, w_s]: this image's region level.</param>
    /// <param name="boxes">[R, 4] x0 y0 x1 y1 canvas pixels at scale 1.</param>
    /// <param name="scaling">The scales and weights.</param>
    /// <returns>[R, D] unit embeddings.</returns>
    public Tensor EmbedRegions(IReadOnlyList<Tensor> regionLevels, Tensor boxes, RegionScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        if (regionLevels.Count != scaling.Scales.Count)
            throw new ArgumentException($"{regionLevels.Count} region maps for {scaling.Scales.Count} region scales.", nameof(regionLevels));
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"boxes must be [R, 4]; got [{string.Join(", ", boxes.shape)}].", nameof(boxes));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        boxes = boxes.to(ScalarType.Float32).cpu();
        if (scaling.IsSingle || boxes.shape[0] == 0)
            return nn.functional.normalize(EmbedRegions(regionLevels[0], boxes), dim: -1).MoveToOuterDisposeScope();
        int count = (int)boxes.shape[0];
        float[] corners = boxes.contiguous().data<float>().ToArray();
        // Array arithmetic between the native calls: no temporary scalars in them.
        float[] sum = scaling.WeightedSum(corners, Manifest.EmbeddingDim, (s, scaled) =>
        {
            using var inner = NewDisposeScope();
            return nn.functional.normalize(EmbedRegions(regionLevels[s], tensor(scaled, [scaled.Length / 4, 4])), dim: -1).contiguous().data<float>().ToArray();
        });
        return nn.functional.normalize(tensor(sum, [count, Manifest.EmbeddingDim]), dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The folder's graphs as ONNX models, read as they were when the folder was loaded (<see cref="OpenLoadedFile"/>),
    /// for including in an exported graph. Including one model object several times shares its weights.
    /// </summary>
    /// <exception cref="InvalidDataException">A graph cannot be part of a detector's graph (<see cref="OnnxGraphBuilder.CheckIncludable"/>), naming the folder and the file.</exception>
    internal VlmGraphModels ReadGraphModels()
    {
        ModelProto Read(string file)
        {
            using var stream = OpenLoadedFile(file);
            var model = ModelProto.Parser.ParseFrom(stream);
            try
            {
                OnnxGraphBuilder.CheckIncludable(model);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"VLM folder '{Folder}': {file} cannot be part of the detector's graph: {e.Message}", e);
            }
            return model;
        }
        return new VlmGraphModels(Read(Manifest.ImageEncoder.File), Read(Manifest.RegionPooler.File),
            Manifest.RegionProjector is { } projector ? Read(projector.File) : null, Manifest.RegionAttention is { } attention ? Read(attention.File) : null);
    }

    /// <summary>Adds what <see cref="EncodeImages"/> computes to <paramref name="graph"/>: the image encoder on <paramref name="canvas"/>.</summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="models">The folder's graphs (<see cref="ReadGraphModels"/>).</param>
    /// <param name="canvas">The value [1, 3, H, W]: normalised, H and W multiples of the size multiple.</param>
    /// <param name="prefix">Prefix of the included nodes' names.</param>
    /// <returns>One value per feature level, fine to coarse.</returns>
    internal string[] ExportEncodeImages(OnnxGraphBuilder graph, VlmGraphModels models, string canvas, string prefix)
    {
        var outputs = graph.Include(models.ImageEncoder, prefix, new Dictionary<string, string> { [Manifest.ImageEncoder.Input] = canvas });
        return _featureNames.Select(n => outputs[n]).ToArray();
    }

    /// <summary>
    /// Adds to <paramref name="graph"/> the maps that region embeddings pool from, one per scale of
    /// <paramref name="scaling"/>: the region level at that scale (<see cref="RegionLevelsAtScales"/>: the canvas resized
    /// as <c>interpolate</c> resizes it, padded, through the image encoder again; at scale 1,
    /// <paramref name="regionLevel"/>), projected by the region projector on the factorized path.
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="models">The folder's graphs.</param>
    /// <param name="canvas">The value [1, 3, H, W] the region level was computed from.</param>
    /// <param name="regionLevel">The value [1, C, h, w]: its region level at scale 1.</param>
    /// <param name="scaling">The scales.</param>
    internal string[] ExportRegionMaps(OnnxGraphBuilder graph, VlmGraphModels models, string canvas, string regionLevel, RegionScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        var maps = new string[scaling.Scales.Count];
        for (int s = 0; s < maps.Length; s++)
        {
            double scale = scaling.Scales[s];
            string map = regionLevel;
            if (scale != 1.0)
            {
                string name = $"vlm.scale{s}";
                // The scaled sides as RegionLevelsAtScales rounds them (in double), and torch's bilinear interpolate (pytorch_half_pixel).
                string sides = graph.Node("Slice", $"{name}.sides", [graph.Node("Shape", $"{name}.shape", [canvas]), graph.Int64s($"{name}.from", 2), graph.Int64s($"{name}.to", 4)]);
                string scaled = graph.Node("Max", $"{name}.scaled_sides", [graph.Int64s($"{name}.one", 1), graph.Node("Cast", $"{name}.scaled_int", [graph.Node("Round", $"{name}.rounded",
                    [graph.Node("Mul", $"{name}.scaled", [graph.Node("Cast", $"{name}.sides_double", [sides], ("to", (long)TensorProto.Types.DataType.Double)), graph.Scalar($"{name}.factor", scale)])])],
                    ("to", (long)TensorProto.Types.DataType.Int64))]);
                string resized = graph.Node("Resize", $"{name}.resized", [canvas, "", "", graph.Node("Concat", $"{name}.sizes", [graph.Int64s($"{name}.batch_channels", 1, 3), scaled], ("axis", 0L))],
                    ("mode", "linear"), ("coordinate_transformation_mode", "pytorch_half_pixel"));
                string padded = graph.PadToMultiple($"{name}.canvas", resized, scaled, Manifest.ImageEncoder.SizeMultiple);
                int regionIndex = Array.IndexOf(_featureNames, Manifest.RegionPooler.RegionLevel);
                map = ExportEncodeImages(graph, models, padded, $"{name}.image")[regionIndex];
            }
            maps[s] = Manifest.RegionProjector is { } projector
                ? graph.Include(models.RegionProjector!, $"vlm.projector{s}", new Dictionary<string, string> { [projector.Input] = map })[projector.Output]
                : map;
        }
        return maps;
    }

    /// <summary>
    /// Adds what <see cref="EmbedRegions(IReadOnlyList{Tensor}, Tensor, RegionScaling)"/> computes to <paramref name="graph"/>:
    /// unit region embeddings of boxes from the maps of <see cref="ExportRegionMaps"/>. With several scales every box is
    /// embedded at every scale and weighed as <see cref="RegionScaling.Weights"/> weighs it (0 where it skips a scale).
    /// </summary>
    /// <param name="graph">The graph to add to.</param>
    /// <param name="models">The folder's graphs.</param>
    /// <param name="maps">Per scale, the map of <see cref="ExportRegionMaps"/>.</param>
    /// <param name="boxes">The value [R, 4]: x0 y0 x1 y1 canvas pixels at scale 1.</param>
    /// <param name="scaling">The scales and weights.</param>
    /// <returns>The value [R, D].</returns>
    internal string ExportEmbedRegions(OnnxGraphBuilder graph, VlmGraphModels models, IReadOnlyList<string> maps, string boxes, RegionScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        if (maps.Count != scaling.Scales.Count)
            throw new ArgumentException($"{maps.Count} region maps for {scaling.Scales.Count} region scales.", nameof(maps));
        var level = Manifest.RegionLevel;
        int g = Manifest.RegionPooler.RoiOutputSize;
        string Embed(string map, string scaledBoxes, int s)
        {
            string batchIndices = graph.Node("Expand", $"vlm.regions.batch{s}", [graph.Int64s($"vlm.regions.image{s}", 0), graph.Node("Shape", $"vlm.regions.count{s}", [scaledBoxes], ("end", 1L))]);
            string rois = graph.RoiAlign($"vlm.regions.roi_align{s}", map, scaledBoxes, batchIndices, g, 1.0 / level.Stride, RegionSamplingRatio);
            string embeddings = Manifest.RegionAttention is { } attention
                ? graph.Include(models.RegionAttention!, $"vlm.attention{s}", new Dictionary<string, string>
                    { [attention.Input] = graph.Node("Transpose", $"vlm.regions.channels_last{s}", [rois], ("perm", new long[] { 0, 2, 3, 1 })) })[attention.Output]
                : graph.Include(models.RegionPooler, $"vlm.pooler{s}", new Dictionary<string, string> { [Manifest.RegionPooler.Input] = rois })[Manifest.RegionPooler.Output];
            return graph.Normalize($"vlm.regions.unit{s}", embeddings);
        }
        if (scaling.IsSingle) return Embed(maps[0], boxes, 0);

        // Per box and scale, RegionScaling.Weights: a Gaussian in the log of the scaled longest side, under 1 % of the box's largest dropped, normalised.
        string Corner(int j) => graph.Node("Slice", $"vlm.regions.corner{j}", [boxes, graph.Int64s($"vlm.regions.corner{j}_from", j), graph.Int64s($"vlm.regions.corner{j}_to", j + 1), graph.Int64s($"vlm.regions.corner{j}_axis", 1)]);
        string side = graph.Node("Max", "vlm.regions.side", [graph.Node("Sub", "vlm.regions.width", [Corner(2), Corner(0)]), graph.Node("Sub", "vlm.regions.height", [Corner(3), Corner(1)]),
            graph.Weight("vlm.regions.min_side", [1e-3f])]);
        string distance = graph.Node("Log", "vlm.regions.distance", [graph.Node("Mul", "vlm.regions.relative", [side,
            graph.Weight("vlm.regions.scales", scaling.Scales.Select(s => (float)(s / scaling.ObjectSize)).ToArray(), scaling.Scales.Count)])]);
        string logits = graph.Node("Mul", "vlm.regions.logits", [graph.Node("Mul", "vlm.regions.squared", [distance, distance]),
            graph.Weight("vlm.regions.gaussian", [(float)(-1 / (2 * scaling.Spread * scaling.Spread))])]);
        string relative = graph.Node("Exp", "vlm.regions.relative_weights", [graph.Node("Sub", "vlm.regions.centred", [logits,
            graph.Node("ReduceMax", "vlm.regions.largest", [logits], ("axes", new[] { 1L }), ("keepdims", 1L))])]);
        string zero = graph.Weight("vlm.regions.zero", [0f]);
        string kept = graph.Node("Where", "vlm.regions.kept", [graph.Node("Less", "vlm.regions.skipped", [relative, graph.Weight("vlm.regions.skip_below", [(float)RegionScaling.SkipBelow])]), zero, relative]);
        string weights = graph.Node("Div", "vlm.regions.weights", [kept, graph.Node("ReduceSum", "vlm.regions.weight_sum", [kept, graph.Int64s("vlm.regions.sum_axis", 1)], ("keepdims", 1L))]);
        // Per scale only the boxes it weighs are embedded (NonZero, Gather), their weighted embeddings added to their rows (ScatterND, add).
        string sum = graph.Node("ConstantOfShape", "vlm.regions.zeros", [graph.Node("Concat", "vlm.regions.sum_shape",
            [graph.Node("Shape", "vlm.regions.rows", [boxes], ("end", 1L)), graph.Int64s("vlm.regions.dim", Manifest.EmbeddingDim)], ("axis", 0L))]);
        for (int s = 0; s < maps.Count; s++)
        {
            string weight = graph.Node("Squeeze", $"vlm.regions.weight{s}", [graph.Node("Slice", $"vlm.regions.weight{s}_column",
                [weights, graph.Int64s($"vlm.regions.weight{s}_from", s), graph.Int64s($"vlm.regions.weight{s}_to", s + 1), graph.Int64s($"vlm.regions.weight{s}_axis", 1)]),
                graph.Int64s($"vlm.regions.weight{s}_squeeze", 1)]);
            string indices = graph.Node("Transpose", $"vlm.regions.used{s}", [graph.Node("NonZero", $"vlm.regions.where{s}", [graph.Node("Greater", $"vlm.regions.weighed{s}", [weight, zero])])],
                ("perm", new long[] { 1, 0 }));
            string used = graph.Node("Squeeze", $"vlm.regions.used_rows{s}", [indices, graph.Int64s($"vlm.regions.used_axis{s}", 1)]);
            string scaledBoxes = graph.Node("Mul", $"vlm.regions.boxes{s}", [graph.Node("Gather", $"vlm.regions.used_boxes{s}", [boxes, used], ("axis", 0L)),
                graph.Weight($"vlm.regions.scale{s}", [(float)scaling.Scales[s]])]);
            string usedWeights = graph.Node("Unsqueeze", $"vlm.regions.used_weights{s}", [graph.Node("Gather", $"vlm.regions.used_weight{s}", [weight, used], ("axis", 0L)),
                graph.Int64s($"vlm.regions.weight_column{s}", 1)]);
            string term = graph.Node("Mul", $"vlm.regions.term{s}", [usedWeights, Embed(maps[s], scaledBoxes, s)]);
            sum = graph.Node("ScatterND", $"vlm.regions.sum{s}", [sum, indices, term], ("reduction", "add"));
        }
        return graph.Normalize("vlm.regions.embeddings", sum);
    }

    /// <summary>The factorized path's first graph: [N, C, h, w] region-level maps to [N, P, h, w] projected maps.</summary>
    internal Tensor ProjectRegionMap(Tensor map)
    {
        var projection = Manifest.RegionProjector ?? throw new InvalidOperationException($"VLM '{Folder}' has no region projector (manifest version 1).");
        var projected = empty(map.shape[0], projection.Channels, map.shape[2], map.shape[3]);
        Run(_projector!, projection.Input, map.contiguous(), [projection.Output], [projected]);
        return projected;
    }

    /// <summary>
    /// The factorized path's last graph on the first <paramref name="count"/> channels-last RoIAlign outputs of the
    /// projected map in <paramref name="projectedRois"/> ([R, g, g, P] row by row), without TorchSharp.
    /// </summary>
    /// <returns>[count, D] region embeddings, not normalised, row by row.</returns>
    internal float[] AttendRegionValues(float[] projectedRois, int count)
    {
        var attention = Manifest.RegionAttention ?? throw new InvalidOperationException($"VLM '{Folder}' has no region attention graph (manifest version 1).");
        int g = Manifest.RegionPooler.RoiOutputSize, channels = Manifest.RegionProjector!.Channels;
        return RunValues(_attention!, attention.Input, projectedRois.AsMemory(0, count * g * g * channels), [count, g, g, channels], attention.Output, [count, Manifest.EmbeddingDim]);
    }

    /// <summary>The factorized path's last graph on channels-last RoIAlign outputs of the projected map, [R, g, g, P].</summary>
    internal Tensor AttendRegions(Tensor projectedRois)
    {
        var output = empty(projectedRois.shape[0], Manifest.EmbeddingDim);
        if (projectedRois.shape[0] > 0)
            Run(_attention!, Manifest.RegionAttention!.Input, projectedRois.contiguous(), [Manifest.RegionAttention.Output], [output]);
        return output;
    }

    /// <summary>Runs the text encoder on token ids.</summary>
    /// <param name="inputIds">[K, L] int64 on the CPU, L the context length.</param>
    /// <returns>[K, D] text embeddings, not normalised.</returns>
    public Tensor EncodeTokenIds(Tensor inputIds)
    {
        int length = Manifest.TextEncoder.ContextLength;
        var shape = inputIds.shape;
        if (shape.Length != 2 || shape[1] != length || inputIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"input_ids must be int64 [K, {length}]; got {inputIds.dtype} [{string.Join(", ", shape)}].", nameof(inputIds));
        var output = empty(shape[0], Manifest.EmbeddingDim);
        if (shape[0] > 0) Run(_text, Manifest.TextEncoder.Input, inputIds.contiguous(), [Manifest.TextEncoder.Output], [output]);
        return output;
    }

    /// <summary>Tokenizes and encodes texts as they are (no templates).</summary>
    /// <returns>[K, D] text embeddings, not normalised.</returns>
    public Tensor EncodeTexts(IReadOnlyList<string> texts) => tensor(EncodeTextValues(texts), [texts.Count, Manifest.EmbeddingDim]);

    /// <summary>What <see cref="EncodeTexts"/> returns, as the values of the [K, D] matrix row by row, without TorchSharp.</summary>
    public float[] EncodeTextValues(IReadOnlyList<string> texts)
    {
        int length = Manifest.TextEncoder.ContextLength;
        return RunValues(_text, Manifest.TextEncoder.Input, Tokenizer.EncodeBatch(texts, length).AsMemory(), [texts.Count, length], Manifest.TextEncoder.Output,
            [texts.Count, Manifest.EmbeddingDim]);
    }

    private static void Run(OnnxGraph graph, string inputName, Tensor input, IReadOnlyList<string> outputNames, IReadOnlyList<Tensor> outputs)
    {
        using var inputValue = OrtTensorBridge.View(input);
        var outputValues = outputs.Select(OrtTensorBridge.View).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            graph.Session.Run(runOptions, [inputName], [inputValue], outputNames.ToArray(), outputValues);
        }
        finally
        {
            foreach (var value in outputValues) value.Dispose();
        }
    }

    public void Dispose()
    {
        _image.Dispose();
        _pooler.Dispose();
        _text.Dispose();
        _projector?.Dispose();
        _attention?.Dispose();
    }
}

/// <summary>A VLM folder's graphs as ONNX models (<see cref="FrozenVlm.ReadGraphModels"/>); the factorized pair when the manifest has it.</summary>
internal sealed record VlmGraphModels(ModelProto ImageEncoder, ModelProto RegionPooler, ModelProto? RegionProjector, ModelProto? RegionAttention);
