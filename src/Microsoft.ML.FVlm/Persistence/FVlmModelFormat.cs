using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.FVlm;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Ops;
using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.Vlm;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(FVlmTransformer), typeof(FVlmModelFormat), null, typeof(SignatureLoadModel),
    "F-VLM open-vocabulary detector", FVlmModelFormat.LoaderSignature)]

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// How an <see cref="FVlmTransformer"/> is stored in the ML.NET model zip, and how it comes back.
/// Everything the transformer needs travels in the zip: the frozen VLM's files, the head's weights,
/// the vocabulary with its text embeddings, and the options. Each entry is framed by
/// <see cref="ModelZipEntries"/> (length and SHA-256), so truncation and corruption are detected.
/// </summary>
internal static class FVlmModelFormat
{
    /// <summary>The name ML.NET records in the zip to find <see cref="Create"/> again.</summary>
    internal const string LoaderSignature = "FVlmTransformer";

    // Version history of Model.key (ML.NET's VersionInfo; the header only, the content is in the entries):
    //   0x00010001: first version (entries Options.json, Vocabulary.json, Vlm.bin, Head.bin, TextEmbeddings.bin, all payload version 1).
    //   0x00010002: Vlm.bin may hold a VLM manifest of version 2 (the factorized region graphs), which
    //               readers of 0x00010001 reject deep inside the VLM folder; a zip whose VLM manifest is
    //               version 1 is still written as 0x00010001, so that older readers keep reading it.
    //   0x00010003: Options.json may ask for VLM region embeddings at several scales (VlmRegionScales,
    //               VlmRegionObjectSize, VlmRegionScaleSpread); readers of 0x00010002 would ignore the
    //               fields and score at scale 1 only. Written only when the scales are not just [1]; a
    //               zip without the fields is read with scale 1.
    //   0x00010004: Options.json may carry the poolers' canonical box size (RoiCanonicalBoxSize); readers
    //               of 0x00010003 would ignore it and pool boxes from other pyramid levels than the head was
    //               trained on. Written only when it is not 224; a zip without the field is read with 224.
    //   0x00010005: Options.json may carry the mask head's pixel branch (MaskPixelChannels), whose weights are in
    //               Head.bin; readers of 0x00010004 would build a head without it and fail on the state
    //               dictionary. Written only when it is not 0; a zip without the field is read with 0.
    //   0x00010006: Options.json may carry the fusion method (RenormaliseFusion, VlmScoredBoxes, ObjectnessWeight);
    //               readers of 0x00010005 would ignore them and fuse the way this library did before: not
    //               renormalised, the VLM on the refined boxes. Written only when the method is not that one;
    //               a zip without the fields is read with it, so a saved model keeps its scores.
    //   0x00010007: the zip carries the head as ONNX graphs (HeadGraphs.bin), from which the detector's graph is built without
    //               TorchSharp. Readers of 0x00010006 ignore the entry and build the graphs from Head.bin, which every zip still
    //               holds: the version is written, but the oldest reader stays that of the other features. A zip without the
    //               entry (saved before) is read by making the head and exporting its graphs on load.
    private const uint FirstVersion = 0x00010001;

    /// <summary>The version of the head's graphs (HeadGraphs.bin): written by every save, needed by no reader.</summary>
    private const uint HeadGraphsVersion = 0x00010007;

    /// <summary>
    /// The features that need a newer reader than <see cref="FirstVersion"/>, each with the version that introduced it
    /// (the history above): a zip is stamped with the highest version among the features it uses, so that a zip without
    /// them stays readable by older readers. A new saved option adds a row here and its field to <see cref="SavedOptions"/>.
    /// </summary>
    private static readonly (uint Version, Func<SavedOptions, VlmManifest, bool> IsUsed)[] Features =
    [
        (0x00010002, (_, vlm) => vlm.Version >= 2),
        (0x00010003, (saved, _) => !saved.RegionScaling().IsSingle),
        (0x00010004, (saved, _) => saved.RoiCanonicalBoxSize != MultiScaleRoiAlign.DefaultCanonicalSize),
        (0x00010005, (saved, _) => saved.MaskPixelChannels != 0),
        (0x00010006, (saved, _) => saved.FusionMethod() != FusionMethod.Unnormalised),
    ];

    /// <summary>The version stamp of a zip of <paramref name="saved"/> and <paramref name="vlm"/>; without them, the newest version this code reads.</summary>
    private static VersionInfo GetVersionInfo(SavedOptions? saved = null, VlmManifest? vlm = null)
    {
        uint reader = saved is null || vlm is null ? Features.Max(f => f.Version)
            : Features.Where(f => f.IsUsed(saved, vlm)).Select(f => f.Version).DefaultIfEmpty(FirstVersion).Max();
        return ModelComponentVersion.Create(
            modelSignature: "FVLMXFRM",
            written: Math.Max(reader, HeadGraphsVersion),
            oldestReaderThatCanRead: reader,
            oldestReadable: FirstVersion,
            loaderSignature: LoaderSignature);
    }

    private const uint PayloadVersion = 1;

    // Entries (payload version 1):
    //   Options.json        int32 length, UTF-8 JSON of SavedOptions: column names, inference options, image size,
    //                       device fields (written as the CPU, ignored on load: the loading MLContext chooses), and the head's architecture.
    //   Vocabulary.json     int32 length, UTF-8 JSON: names, novel flags, base class names.
    //   Vlm.bin             int32 file count, then per file: string name (BinaryWriter), int64 length,
    //                       bytes. The files of the VLM folder that the manifest names (manifest.json first;
    //                       a version 2 manifest may name the factorized region graphs too).
    //   Head.bin            the head's state dictionary (TorchSharp's Module.save format).
    //   HeadGraphs.bin      (0x00010007) the head as two ONNX models (Onnx/HeadGraphs: per model, int64 length and bytes).
    //   TextEmbeddings.bin  string templates key, int32 dim, int32 count, then per class: string name,
    //                       float32[dim] unit embedding.
    public static void Save(ModelSaveContext ctx, FVlmTransformer transformer)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        MlNetCompatibility.Run("save the model", () => SaveEntries(ctx, transformer));
    }

    private static void SaveEntries(ModelSaveContext ctx, FVlmTransformer transformer)
    {
        ctx.CheckAtModel();
        var model = transformer.Model;
        using var lease = model.Use();
        var saved = SavedOptions.From(transformer.Scoring, model);
        ctx.SetVersionInfo(GetVersionInfo(saved, model.Vlm.Manifest));
        WriteJson(ctx, "Options.json", saved);
        WriteJson(ctx, "Vocabulary.json", new SavedVocabulary(transformer.Vocabulary.Names.ToArray(), transformer.Vocabulary.IsNovel.ToArray(), model.BaseClassNames.ToArray()));
        ModelZipEntries.Write(ctx, "Vlm.bin", PayloadVersion, writer => WriteVlmFiles(writer, model.Vlm));
        ModelZipEntries.Write(ctx, "Head.bin", PayloadVersion, model.WriteHead);
        ModelZipEntries.Write(ctx, "HeadGraphs.bin", PayloadVersion, model.HeadGraphs.Write);
        ModelZipEntries.Write(ctx, "TextEmbeddings.bin", PayloadVersion, writer => model.Vlm.TextEmbeddings.Write(writer, transformer.Vocabulary.Names));
    }

    /// <summary>The loader ML.NET calls through <c>LoadableClass</c>; the layout is at <see cref="Save"/>.</summary>
    /// <remarks>
    /// ML.NET calls it by reflection: its errors reach the caller as the inner exception of a TargetInvocationException.
    /// A model zip is untrusted input: its options are validated as <c>Fit</c> validates them, before anything is
    /// built; the VLM's files are written into a private folder of this load (<see cref="ExtractedVlmFolder"/>) and
    /// may name only files in that folder (<see cref="VlmManifest"/>).
    /// </remarks>
    private static FVlmTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(ctx);
        return MlNetCompatibility.Run("load the model", () => Load(env, ctx));
    }

    private static FVlmTransformer Load(IHostEnvironment env, ModelLoadContext ctx)
    {
        ModelComponentVersion.CheckAtModel(ctx, GetVersionInfo(), "F-VLM transformer");
        var saved = ReadJson<SavedOptions>(ctx, "Options.json");
        // Where to run comes from the loading MLContext, never from the zip (whose device fields are ignored).
        var (gpuDeviceId, fallbackToCpu) = MLNetEnvironment.GpuSettings(env);
        var options = ValidOptions(ctx, saved);
        var architecture = FVlmOptionsValidator.Architecture(options);
        var vocabulary = ReadJson<SavedVocabulary>(ctx, "Vocabulary.json");
        var files = ModelZipEntries.Read(ctx, "Vlm.bin", PayloadVersion, (reader, _) => ExtractedVlmFolder.Write(ReadVlmFiles(reader)));
        FrozenVlm? vlm = null;
        (DetectorHead Head, string Device)? madeNow = null;
        try
        {
            vlm = FrozenVlm.Load(files.FolderPath, new VlmSessionOptions { GpuDeviceId = gpuDeviceId, FallbackToCpu = fallbackToCpu });
            var loaded = vlm;
            byte[] headWeights = ModelZipEntries.ReadPayload(ctx, "Head.bin", PayloadVersion);
            // The TorchSharp head, made when something asks for it (or now, for a zip without the head's graphs).
            (DetectorHead, string) LoadHead()
            {
                string device = MLNetEnvironment.HeadDevice(gpuDeviceId, fallbackToCpu);
                var head = DetectorFactory.Create(loaded.Manifest, architecture);
                try
                {
                    using var reader = new BinaryReader(new MemoryStream(headWeights, writable: false));
                    head.load(reader);
                }
                catch (Exception e)
                {
                    head.Dispose();
                    // TorchSharp's own words ("Mismatched state_dict sizes", "Mismatched tensor shape") do not say which file is wrong.
                    throw new InvalidDataException($"The model zip entry '{ModelZipEntries.EntryPath(ctx, "Head.bin")}' does not hold the weights of the head that " +
                        $"'{ModelZipEntries.EntryPath(ctx, "Options.json")}' describes (pyramid {saved.PyramidChannels}, head convolutions {saved.HeadConvChannels}, " +
                        $"box head {saved.BoxHeadFcDim}, mask pixel channels {saved.MaskPixelChannels}): {e.Message}", e);
                }
                return (head, device);
            }
            string graphsEntry = ModelZipEntries.EntryPath(ctx, "HeadGraphs.bin");
            HeadGraphs? graphs = ModelZipEntries.TryRead(ctx, "HeadGraphs.bin", PayloadVersion, (reader, _) => HeadGraphs.Read(reader, loaded.Manifest, $"The model zip entry '{graphsEntry}'"));
            if (graphs is null)
            {
                // Saved before 0x00010007: the graphs come from the head's modules.
                madeNow = LoadHead();
                graphs = HeadGraphs.Export(madeNow.Value.Head, vlm.Manifest);
            }
            ModelZipEntries.Read(ctx, "TextEmbeddings.bin", PayloadVersion, (reader, _) => { loaded.TextEmbeddings.Read(reader); return true; });
            var made = madeNow;
            var model = new FVlmModel(vlm, graphs, architecture, vocabulary.BaseClassNames, options.ImageSize, () => made ?? LoadHead(), headWeights, files);
            // The head made to export the graphs is the model's (freed with it).
            if (made is not null) _ = model.Detector;
            return new FVlmTransformer(model, FVlmOptionsValidator.Scoring(options), new Vocabulary(vocabulary.Names, vocabulary.IsNovel));
        }
        catch
        {
            // The model, if made, is dropped unshared: the head made here is freed with the rest.
            madeNow?.Head.Dispose();
            vlm?.Dispose();
            files.Dispose();
            throw;
        }
    }

    /// <summary>The saved options, checked by the validator <c>Fit</c> uses: a zip's options fail at load, naming the entry, not at the first image.</summary>
    private static FVlmOptions ValidOptions(ModelLoadContext ctx, SavedOptions saved)
    {
        FVlmOptions options;
        try
        {
            options = saved.ToOptions(vlmFolder: "(extracted from the model zip)");
            FVlmOptionsValidator.Validate(options);
        }
        catch (Exception e) when (e is ArgumentException or NullReferenceException)
        {
            throw new InvalidDataException($"The model zip entry '{ModelZipEntries.EntryPath(ctx, "Options.json")}' holds invalid options: {e.Message}", e);
        }
        return options;
    }

    private static void WriteJson<T>(ModelSaveContext ctx, string name, T value) =>
        ModelZipEntries.Write(ctx, name, PayloadVersion, writer =>
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(value);
            writer.Write(json.Length);
            writer.Write(json);
        });

    private static T ReadJson<T>(ModelLoadContext ctx, string name) =>
        ModelZipEntries.Read(ctx, name, PayloadVersion, (reader, _) =>
        {
            int length = reader.ReadInt32();
            if (length is < 2 or > 64 << 20) throw new InvalidDataException($"Model zip entry '{name}' declares {length} bytes of JSON.");
            return JsonSerializer.Deserialize<T>(reader.ReadBytes(length)) ?? throw new InvalidDataException($"Model zip entry '{name}' is empty.");
        });

    private static void WriteVlmFiles(BinaryWriter writer, FrozenVlm vlm)
    {
        var files = vlm.Manifest.FileNames;
        writer.Write(files.Count);
        foreach (string file in files)
        {
            using var source = vlm.OpenLoadedFile(file);
            writer.Write(file);
            writer.Write(source.Length);
            writer.Flush();
            source.CopyTo(writer.BaseStream);
        }
    }

    /// <summary>The VLM's files as <see cref="WriteVlmFiles"/> wrote them; every name a plain file name, each once.</summary>
    private static List<(string Name, byte[] Bytes)> ReadVlmFiles(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count is < 1 or > 64) throw new InvalidDataException($"Model zip entry 'Vlm.bin' declares {count} files; expected 1 to 64.");
        var files = new List<(string Name, byte[] Bytes)>();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!VlmManifest.IsFileNameInFolder(name))
                throw new InvalidDataException($"Model zip entry 'Vlm.bin' names a file '{name}' outside the VLM folder.");
            if (files.Any(f => f.Name == name))
                throw new InvalidDataException($"Model zip entry 'Vlm.bin' holds the file '{name}' twice.");
            long length = reader.ReadInt64();
            if (length is < 0 or > int.MaxValue) throw new InvalidDataException($"Model zip entry 'Vlm.bin': file '{name}' declares {length} bytes.");
            byte[] bytes = reader.ReadBytes((int)length);
            if (bytes.Length != length) throw new InvalidDataException($"Model zip entry 'Vlm.bin' is truncated in file '{name}'.");
            files.Add((name, bytes));
        }
        return files;
    }

    /// <summary>
    /// The layout of Options.json: what a loaded transformer needs (training-only options are not kept), written from the
    /// transformer's settings and model and read back into <see cref="FVlmOptions"/>, from which the loader builds the
    /// settings through the same mapping as <c>Fit</c>. A field added after the first version is optional, and its
    /// absence reads as the behaviour of the zips before it (<see cref="ToOptions"/>).
    /// </summary>
    internal sealed record SavedOptions(
        string ImageColumnName, string PredictedLabelColumnName, string ScoreColumnName, string PredictedBoundingBoxColumnName, string PredictedMaskColumnName,
        bool AddDetectionScoreColumn, bool AddVlmScoreColumn, double ScoreThreshold, double NmsThreshold, int MaxDetections,
        double BaseVlmWeight, double NovelVlmWeight, int InferenceBatchSize, int ImageSize, string Device, int? GpuDeviceId, bool FallbackToCpu,
        int PyramidChannels, int HeadConvChannels, int BoxHeadFcDim, double[] AnchorSizes, int InferenceProposalCount,
        double[]? VlmRegionScales = null, double VlmRegionObjectSize = 0, double VlmRegionScaleSpread = 0, double? RoiCanonicalBoxSize = null,
        int MaskPixelChannels = 0, bool? RenormaliseFusion = null, string? VlmScoredBoxes = null, double ObjectnessWeight = 0)
    {
        public static SavedOptions From(ScoringSettings scoring, FVlmModel model)
        {
            var (columns, inference, architecture) = (scoring.Columns, scoring.Inference, model.Architecture);
            return new(
                columns.ImageColumnName, columns.PredictedLabelColumnName, columns.ScoreColumnName, columns.PredictedBoundingBoxColumnName, columns.PredictedMaskColumnName,
                columns.AddDetectionScoreColumn, columns.AddVlmScoreColumn, inference.ScoreThreshold, inference.NmsThreshold, inference.MaxDetections,
                // The device fields are written as the CPU for readers before the loading context chose the device,
                // which applied them; this reader ignores them (Load).
                inference.BaseVlmWeight, inference.NovelVlmWeight, scoring.BatchSize, model.ImageSize, "cpu", null, false,
                architecture.PyramidChannels, architecture.HeadConvChannels, architecture.BoxHeadFcDim, architecture.AnchorSizes.ToArray(),
                architecture.Rpn.InferencePostNmsTopK, inference.RegionScaling.Scales.ToArray(), inference.RegionScaling.ObjectSize, inference.RegionScaling.Spread,
                architecture.RoiHeads.CanonicalBoxSize, architecture.MaskPixelChannels,
                inference.Fusion.Renormalise, inference.Fusion.VlmBoxes.ToString(), inference.Fusion.ObjectnessWeight);
        }

        // Zips before 0x00010004 have no canonical box size: the FPN paper's 224.
        private double CanonicalBoxSize => RoiCanonicalBoxSize ?? MultiScaleRoiAlign.DefaultCanonicalSize;

        /// <summary>The region scaling these fields describe (a zip before 0x00010003: the single scale).</summary>
        public RegionScaling RegionScaling() => VlmRegionScales is null ? Vlm.RegionScaling.Single : new(VlmRegionScales, VlmRegionObjectSize, VlmRegionScaleSpread);

        /// <summary>The fusion method these fields describe (a zip before 0x00010006: the unnormalised fusion it was saved with).</summary>
        public FusionMethod FusionMethod() => new()
        {
            Renormalise = RenormaliseFusion ?? Inference.FusionMethod.Unnormalised.Renormalise,
            VlmBoxes = VlmScoredBoxes is null ? Inference.FusionMethod.Unnormalised.VlmBoxes
                : Enum.GetNames<Microsoft.ML.FVlm.Inference.VlmScoredBoxes>().Contains(VlmScoredBoxes) ? Enum.Parse<Microsoft.ML.FVlm.Inference.VlmScoredBoxes>(VlmScoredBoxes)
                : throw new ArgumentException($"VlmScoredBoxes is '{VlmScoredBoxes}'; expected Proposals or RefinedBoxes."),
            ObjectnessWeight = ObjectnessWeight,
        };

        /// <summary>The options these fields describe; the device options keep their defaults (the loading context chooses the device).</summary>
        public FVlmOptions ToOptions(string vlmFolder)
        {
            var fusion = FusionMethod();
            return new()
            {
                VlmFolder = vlmFolder, ImageColumnName = ImageColumnName, PredictedLabelColumnName = PredictedLabelColumnName, ScoreColumnName = ScoreColumnName,
                PredictedBoundingBoxColumnName = PredictedBoundingBoxColumnName, PredictedMaskColumnName = PredictedMaskColumnName,
                AddDetectionScoreColumn = AddDetectionScoreColumn, AddVlmScoreColumn = AddVlmScoreColumn, ScoreThreshold = ScoreThreshold,
                NmsThreshold = NmsThreshold, MaxDetections = MaxDetections, BaseVlmWeight = BaseVlmWeight, NovelVlmWeight = NovelVlmWeight,
                InferenceBatchSize = InferenceBatchSize, ImageSize = ImageSize,
                PyramidChannels = PyramidChannels, HeadConvChannels = HeadConvChannels, BoxHeadFcDim = BoxHeadFcDim, AnchorSizes = AnchorSizes,
                InferenceProposalCount = InferenceProposalCount, RoiCanonicalBoxSize = CanonicalBoxSize,
                // Zips before 0x00010005 have no pixel branch: Mask R-CNN's head (the record's default, 0).
                MaskPixelChannels = MaskPixelChannels,
                // Zips before 0x00010003 have no region scales: F-VLM's single scale. Checked by the validator, not here.
                VlmRegionScales = VlmRegionScales ?? [.. Vlm.RegionScaling.Single.Scales],
                VlmRegionObjectSize = VlmRegionScales is null ? Vlm.RegionScaling.Single.ObjectSize : VlmRegionObjectSize,
                VlmRegionScaleSpread = VlmRegionScales is null ? Vlm.RegionScaling.Single.Spread : VlmRegionScaleSpread,
                RenormaliseFusion = fusion.Renormalise, VlmScoredBoxes = fusion.VlmBoxes, ObjectnessWeight = fusion.ObjectnessWeight,
            };
        }
    }

    private sealed record SavedVocabulary(string[] Names, bool[] IsNovel, string[] BaseClassNames);
}
