using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// The <c>manifest.json</c> of a frozen-VLM folder (docs/vlm-contract.md). Reading it validates every
/// field; an error names the file and the field.
/// </summary>
internal sealed record VlmManifest
{
    /// <summary>The value of <c>format</c> in every manifest.</summary>
    public const string FormatName = "fvlm-vlm";

    /// <summary>
    /// The newest manifest version this library reads. Version 1: the image encoder, the region pooler
    /// and the text encoder. Version 2 adds the optional factorized region path
    /// (<see cref="RegionProjector"/> and <see cref="RegionAttention"/>, both or neither).
    /// </summary>
    public const int CurrentVersion = 2;

    [JsonPropertyName("format")] public string Format { get; init; } = "";
    [JsonPropertyName("version")] public int Version { get; init; }
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    /// <summary>Dimension D of region and text embeddings.</summary>
    [JsonPropertyName("embedding_dim")] public int EmbeddingDim { get; init; }
    /// <summary>Region-text logits are cosine similarities divided by this (about 0.01 for CLIP).</summary>
    [JsonPropertyName("logit_temperature")] public double LogitTemperature { get; init; }
    [JsonPropertyName("image_encoder")] public ImageEncoderSection ImageEncoder { get; init; } = new();
    [JsonPropertyName("region_pooler")] public RegionPoolerSection RegionPooler { get; init; } = new();
    /// <summary>Optional (version 2): the region pooler's linear projections applied once to the whole region-level map.</summary>
    [JsonPropertyName("region_projector")] public RegionProjectorSection? RegionProjector { get; init; }
    /// <summary>Optional (version 2): the rest of the region pooler, on RoIAlign outputs of the projected map laid out channels last, [R, g, g, P].</summary>
    [JsonPropertyName("region_attention")] public GraphSection? RegionAttention { get; init; }
    [JsonPropertyName("text_encoder")] public TextEncoderSection TextEncoder { get; init; } = new();
    [JsonPropertyName("tokenizer")] public TokenizerSection Tokenizer { get; init; } = new();

    /// <summary>The level that <see cref="RegionPooler"/> reads.</summary>
    [JsonIgnore] public FeatureLevel RegionLevel => ImageEncoder.FeatureLevels.Single(l => l.Name == RegionPooler.RegionLevel);

    /// <summary>The folder's files that this manifest names, <c>manifest.json</c> first: what a model zip carries.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> FileNames
    {
        get
        {
            var files = new List<string> { "manifest.json", ImageEncoder.File, RegionPooler.File, TextEncoder.File, Tokenizer.MergesFile };
            if (TextEncoder.PromptTemplatesFile is { } templates) files.Add(templates);
            if (RegionProjector is { } projector) files.AddRange([projector.File, RegionAttention!.File]);
            return files;
        }
    }

    /// <summary>Whether region embeddings can take the factorized path (<see cref="RegionProjector"/>, RoIAlign, <see cref="RegionAttention"/>).</summary>
    [JsonIgnore] public bool HasFactorizedRegionPath => RegionProjector is not null;

    public sealed record ImageEncoderSection
    {
        [JsonPropertyName("file")] public string File { get; init; } = "";
        [JsonPropertyName("input")] public string Input { get; init; } = "";
        [JsonPropertyName("size_multiple")] public int SizeMultiple { get; init; }
        /// <summary>Side of the square images the tower was pretrained on; at this size the region level is <c>roi_output_size</c> square.</summary>
        [JsonPropertyName("pretraining_image_size")] public int PretrainingImageSize { get; init; }
        /// <summary>Per-channel RGB mean of values scaled to [0, 1].</summary>
        [JsonPropertyName("pixel_mean")] public float[] PixelMean { get; init; } = [];
        /// <summary>Per-channel RGB standard deviation of values scaled to [0, 1].</summary>
        [JsonPropertyName("pixel_std")] public float[] PixelStd { get; init; } = [];
        [JsonPropertyName("feature_levels")] public FeatureLevel[] FeatureLevels { get; init; } = [];
    }

    /// <summary>One output of the image encoder: [N, Channels, H / Stride, W / Stride].</summary>
    public sealed record FeatureLevel
    {
        [JsonPropertyName("name")] public string Name { get; init; } = "";
        [JsonPropertyName("stride")] public int Stride { get; init; }
        [JsonPropertyName("channels")] public int Channels { get; init; }
    }

    public sealed record RegionPoolerSection
    {
        [JsonPropertyName("file")] public string File { get; init; } = "";
        [JsonPropertyName("input")] public string Input { get; init; } = "";
        [JsonPropertyName("output")] public string Output { get; init; } = "";
        [JsonPropertyName("region_level")] public string RegionLevel { get; init; } = "";
        /// <summary>g: the pooler reads [R, C, g, g] RoIAlign outputs.</summary>
        [JsonPropertyName("roi_output_size")] public int RoiOutputSize { get; init; }
    }

    /// <summary>
    /// <c>region_map</c> [N, C, h, w] (the region level) to [N, <see cref="Channels"/>, h, w]: every
    /// linear operation the pooler applies to a token before it mixes tokens, applied to every
    /// position. RoIAlign is linear in the map, so pooling this map per box and finishing with
    /// <see cref="RegionAttention"/> equals the region pooler on RoIAlign of the region level.
    /// </summary>
    public sealed record RegionProjectorSection
    {
        [JsonPropertyName("file")] public string File { get; init; } = "";
        [JsonPropertyName("input")] public string Input { get; init; } = "";
        [JsonPropertyName("output")] public string Output { get; init; } = "";
        /// <summary>Channels of the projected map (CLIP's attention pool: 3 C, the query, key and value projections).</summary>
        [JsonPropertyName("channels")] public int Channels { get; init; }
    }

    /// <summary>A graph with one input and one output.</summary>
    public sealed record GraphSection
    {
        [JsonPropertyName("file")] public string File { get; init; } = "";
        [JsonPropertyName("input")] public string Input { get; init; } = "";
        [JsonPropertyName("output")] public string Output { get; init; } = "";
    }

    public sealed record TextEncoderSection
    {
        [JsonPropertyName("file")] public string File { get; init; } = "";
        [JsonPropertyName("input")] public string Input { get; init; } = "";
        [JsonPropertyName("output")] public string Output { get; init; } = "";
        /// <summary>L: token sequences are padded with 0 or truncated to this length.</summary>
        [JsonPropertyName("context_length")] public int ContextLength { get; init; }
        /// <summary>Optional: a text file of prompt templates, one per line, <c>{}</c> standing for the class name.</summary>
        [JsonPropertyName("prompt_templates_file")] public string? PromptTemplatesFile { get; init; }
    }

    public sealed record TokenizerSection
    {
        [JsonPropertyName("kind")] public string Kind { get; init; } = "";
        [JsonPropertyName("merges_file")] public string MergesFile { get; init; } = "";
        [JsonPropertyName("merge_count")] public int MergeCount { get; init; }
        [JsonPropertyName("start_id")] public int StartId { get; init; }
        [JsonPropertyName("end_id")] public int EndId { get; init; }
    }

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or a field is missing or out of range; the message names both.</exception>
    public static VlmManifest Load(string path) => LoadWithBytes(path).Manifest;

    /// <summary>Reads the manifest once: the bytes validated are the bytes returned (what a model zip carries).</summary>
    internal static (VlmManifest Manifest, byte[] Bytes) LoadWithBytes(string path)
    {
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"VLM manifest '{path}' does not exist.", path);
        byte[] bytes = System.IO.File.ReadAllBytes(path);
        VlmManifest? manifest;
        try
        {
            ReadOnlySpan<byte> json = bytes;
            if (json.StartsWith("\uFEFF"u8)) json = json[3..];   // a BOM, as an editor may write; the stream reader skipped it too
            manifest = JsonSerializer.Deserialize<VlmManifest>(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"VLM manifest '{path}' is not valid: {e.Message}", e);
        }
        if (manifest is null) throw new InvalidDataException($"VLM manifest '{path}' is empty.");
        manifest.Validate(path);
        return (manifest, bytes);
    }

    private void Validate(string path)
    {
        void Fail(string field, string expected, object? actual) =>
            throw new InvalidDataException($"VLM manifest '{path}': '{field}' must be {expected}; found {Show(actual)}.");

        if (Format != FormatName) Fail("format", $"\"{FormatName}\"", Format);
        if (Version < 1) Fail("version", "a positive integer", Version);
        if (Version > CurrentVersion)
            throw new InvalidDataException($"VLM manifest '{path}' has version {Version}; this library reads versions up to {CurrentVersion}. Update Microsoft.ML.FVlm.");
        if (EmbeddingDim <= 0) Fail("embedding_dim", "a positive integer", EmbeddingDim);
        if (!(LogitTemperature > 0)) Fail("logit_temperature", "a positive number", LogitTemperature);

        var image = ImageEncoder;
        RequireFileName("image_encoder.file", image.File);
        RequireName("image_encoder.input", image.Input);
        if (image.SizeMultiple <= 0) Fail("image_encoder.size_multiple", "a positive integer", image.SizeMultiple);
        if (image.PretrainingImageSize <= 0 || image.PretrainingImageSize % image.SizeMultiple != 0)
            Fail("image_encoder.pretraining_image_size", "a positive multiple of size_multiple", image.PretrainingImageSize);
        if (image.PixelMean.Length != 3) Fail("image_encoder.pixel_mean", "3 numbers (R, G, B)", image.PixelMean);
        if (image.PixelStd.Length != 3 || image.PixelStd.Any(s => !(s > 0))) Fail("image_encoder.pixel_std", "3 positive numbers (R, G, B)", image.PixelStd);
        if (image.FeatureLevels.Length == 0) Fail("image_encoder.feature_levels", "a non-empty list", image.FeatureLevels);
        for (int i = 0; i < image.FeatureLevels.Length; i++)
        {
            var level = image.FeatureLevels[i];
            RequireName($"image_encoder.feature_levels[{i}].name", level.Name);
            if (level.Stride <= 0 || image.SizeMultiple % level.Stride != 0)
                Fail($"image_encoder.feature_levels[{i}].stride", $"a positive divisor of size_multiple ({image.SizeMultiple})", level.Stride);
            if (level.Channels <= 0) Fail($"image_encoder.feature_levels[{i}].channels", "a positive integer", level.Channels);
            if (i > 0 && level.Stride <= image.FeatureLevels[i - 1].Stride)
                Fail($"image_encoder.feature_levels[{i}].stride", "larger than the previous level's (levels go from fine to coarse)", level.Stride);
            if (image.FeatureLevels.Take(i).Any(l => l.Name == level.Name))
                Fail($"image_encoder.feature_levels[{i}].name", "unique", level.Name);
        }

        var pooler = RegionPooler;
        RequireFileName("region_pooler.file", pooler.File);
        RequireName("region_pooler.input", pooler.Input);
        RequireName("region_pooler.output", pooler.Output);
        if (image.FeatureLevels.All(l => l.Name != pooler.RegionLevel))
            Fail("region_pooler.region_level", $"one of the feature levels ({string.Join(", ", image.FeatureLevels.Select(l => l.Name))})", pooler.RegionLevel);
        if (pooler.RoiOutputSize <= 0) Fail("region_pooler.roi_output_size", "a positive integer", pooler.RoiOutputSize);

        if ((RegionProjector is null) != (RegionAttention is null))
            Fail(RegionProjector is null ? "region_projector" : "region_attention", "present: region_projector and region_attention come together", null);
        if (Version < 2 && RegionProjector is not null)
            Fail("version", "2 or more for region_projector and region_attention", Version);
        if (RegionProjector is { } projector)
        {
            RequireFileName("region_projector.file", projector.File);
            RequireName("region_projector.input", projector.Input);
            RequireName("region_projector.output", projector.Output);
            if (projector.Channels <= 0) Fail("region_projector.channels", "a positive integer", projector.Channels);
            RequireFileName("region_attention.file", RegionAttention!.File);
            RequireName("region_attention.input", RegionAttention.Input);
            RequireName("region_attention.output", RegionAttention.Output);
        }

        var text = TextEncoder;
        RequireFileName("text_encoder.file", text.File);
        if (text.PromptTemplatesFile is not null) RequireFileName("text_encoder.prompt_templates_file", text.PromptTemplatesFile);
        RequireName("text_encoder.input", text.Input);
        RequireName("text_encoder.output", text.Output);
        if (text.ContextLength < 2) Fail("text_encoder.context_length", "at least 2 (start and end tokens)", text.ContextLength);

        var tokenizer = Tokenizer;
        if (tokenizer.Kind != "clip-bpe") Fail("tokenizer.kind", "\"clip-bpe\"", tokenizer.Kind);
        RequireFileName("tokenizer.merges_file", tokenizer.MergesFile);
        if (tokenizer.MergeCount < 0) Fail("tokenizer.merge_count", "zero or more", tokenizer.MergeCount);
        if (tokenizer.StartId != 512 + tokenizer.MergeCount) Fail("tokenizer.start_id", $"512 + merge_count = {512 + tokenizer.MergeCount}", tokenizer.StartId);
        if (tokenizer.EndId != 513 + tokenizer.MergeCount) Fail("tokenizer.end_id", $"513 + merge_count = {513 + tokenizer.MergeCount}", tokenizer.EndId);

        void RequireName(string field, string? value)
        {
            if (string.IsNullOrWhiteSpace(value)) Fail(field, "a non-empty string", value);
        }

        // A model zip carries the files a manifest names: a name that reached outside the folder would
        // make loading an untrusted zip read any file of the machine.
        void RequireFileName(string field, string? value)
        {
            RequireName(field, value);
            if (!IsFileNameInFolder(value!))
                Fail(field, "the name of a file in the VLM folder (no directory part, no '..', not an absolute path)", value);
        }
    }

    /// <summary>Whether <paramref name="name"/> names a file directly inside a folder, on any operating system.</summary>
    internal static bool IsFileNameInFolder(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.Trim().Length == name.Length
        && name.IndexOfAny(['/', '\\', ':', '\0']) < 0 && !Path.IsPathRooted(name);

    private static string Show(object? value) => value switch
    {
        null => "nothing",
        string s => $"\"{s}\"",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>()) + "]",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "?",
    };
}
