using System.Text.Json.Nodes;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

/// <summary>The VLM contract on a tiny random-weight model (eng/clip/make_tiny_vlm.sh).</summary>
public class FrozenVlmTests
{
    [Test]
    public void RunsAllThreeGraphsWithTheManifestsShapes()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();

        var features = vlm.EncodeImages(randn(2, 3, 64, 96));
        Assert.That(features.Select(f => f.shape), Is.EqualTo(new[]
        {
            new long[] { 2, 32, 16, 24 }, new long[] { 2, 64, 8, 12 }, new long[] { 2, 128, 4, 6 }, new long[] { 2, 256, 2, 3 },
        }));
        var regions = vlm.EmbedRegions(features[^1][0], tensor(new float[] { 0, 0, 64, 64, 10, 5, 90, 60 }, [2, 4]));
        Assert.That(regions.shape, Is.EqualTo(new long[] { 2, 16 }));
        Assert.That(vlm.EncodeTexts(["a ring.", "circle"]).shape, Is.EqualTo(new long[] { 2, 16 }));
        Assert.That(vlm.RunsOnGpu, Is.False);
    }

    [Test]
    public void ClassEmbeddingsEnsembleTheTemplatesAndAreCached()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        Assert.That(vlm.PromptTemplates, Is.EqualTo(new[] { "a {}.", "a photo of a {}." }));

        var embeddings = vlm.TextEmbeddings.Get(["ring", "circle"]);

        // By hand: each filled template encoded and normalised, averaged, normalised again.
        var raw = nn.functional.normalize(vlm.EncodeTexts(["a ring.", "a photo of a ring."]), dim: -1);
        var expected = nn.functional.normalize(raw.mean([0]), dim: -1);
        Assert.That((embeddings[0] - expected).abs().max().item<float>(), Is.LessThan(1e-6f));
        Assert.That(embeddings.norm(1).data<float>().ToArray(), Is.All.EqualTo(1f).Within(1e-5));
        Assert.That(vlm.TextEmbeddings.Count, Is.EqualTo(2));

        var again = vlm.TextEmbeddings.Get(["circle", "square"]);
        Assert.That(vlm.TextEmbeddings.Count, Is.EqualTo(3), "only the new name is encoded");
        Assert.That((again[0] - embeddings[1]).abs().max().item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void FactorizedRegionPathEqualsThePoolerOnRoiAlign()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var v1 = FrozenVlm.Load(CopyOfTinyVlm(AsVersion1));
        using var scope = NewDisposeScope();
        Assert.That(vlm.Manifest.HasFactorizedRegionPath, Is.True);
        Assert.That(v1.Manifest.HasFactorizedRegionPath, Is.False);

        manual_seed(5);
        var c5 = vlm.EncodeImages(randn(1, 3, 96, 128))[^1];
        var corners = rand(300, 2) * tensor(new float[] { 128, 96 });
        var sizes = rand(300, 2) * 80 + 2;
        var boxes = cat([corners - sizes / 2, corners + sizes / 2], 1);   // some cross the border
        int g = vlm.Manifest.RegionPooler.RoiOutputSize;
        var expected = vlm.PoolRegions(Microsoft.ML.FVlm.Ops.RoiAlign.Forward(c5, boxes, g, 1.0 / 32, FrozenVlm.RegionSamplingRatio));

        var factorized = vlm.EmbedRegions(c5, boxes);
        double scale = expected.abs().max().item<float>();
        Assert.That((factorized - expected).abs().max().item<float>() / scale, Is.LessThan(1e-5));
        Assert.That((v1.EmbedRegions(c5, boxes) - expected).abs().max().item<float>(), Is.EqualTo(0f), "version 1: the pooler on RoIAlign");

        vlm.RoiChunkBytes = 37 * vlm.Manifest.RegionProjector!.Channels * g * g * sizeof(float);   // 37 boxes per chunk
        Assert.That((vlm.EmbedRegions(c5, boxes) - factorized).abs().max().item<float>(), Is.EqualTo(0f), "chunks give the same embeddings");
        Assert.That(Assert.Throws<ArgumentException>(() => vlm.EmbedRegions(cat([c5, c5]), boxes))!.Message, Does.Contain("regionLevel").And.Contain("'c5'"));
        Assert.That(vlm.EmbedRegions(c5, zeros(0, 4)).shape, Is.EqualTo(new long[] { 0, vlm.Manifest.EmbeddingDim }));
    }

    /// <summary>
    /// <see cref="RegionEmbedder"/> (C#, on projected maps laid out channels last, as the detector's first graph hands them
    /// over) gives the unit embeddings of <see cref="FrozenVlm.EmbedRegions(IReadOnlyList{Tensor}, Tensor, RegionScaling)"/>,
    /// at one scale and at two, in one chunk of boxes or several.
    /// </summary>
    [Test]
    public void RegionEmbeddingsOnProjectedMapsEqualTheTorchSharpPath()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        manual_seed(7);
        var levels = new[] { vlm.EncodeImages(randn(1, 3, 96, 128))[^1], vlm.EncodeImages(randn(1, 3, 192, 256))[^1] };
        var centres = rand(300, 2) * tensor(new float[] { 128, 96 });
        var sizes = rand(300, 2) * 80 + 2;
        var boxes = cat([centres - sizes / 2, centres + sizes / 2], 1);   // some cross the border
        float[] corners = boxes.contiguous().data<float>().ToArray();
        var projected = levels.Select(l => vlm.ProjectRegionMap(l)[0].permute(1, 2, 0).contiguous()).ToArray();
        var values = projected.Select(p => p.data<float>().ToArray()).ToArray();
        int g = vlm.Manifest.RegionPooler.RoiOutputSize, channels = vlm.Manifest.RegionProjector!.Channels;

        var pins = values.Select(v => System.Runtime.InteropServices.GCHandle.Alloc(v, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        try
        {
            var maps = pins.Select((pin, i) => new RegionEmbedder.ProjectedMap(pin.AddrOfPinnedObject(), (int)projected[i].shape[0], (int)projected[i].shape[1], channels)).ToArray();
            foreach (var scaling in new[] { RegionScaling.Single, new RegionScaling([1.0, 2.0], 48, 0.5) })
            {
                var expected = vlm.EmbedRegions(levels.Take(scaling.Scales.Count).ToArray(), boxes, scaling);
                vlm.RoiChunkBytes = 64L << 20;
                var actual = tensor(RegionEmbedder.Embed(vlm, maps.Take(scaling.Scales.Count).ToArray(), corners, scaling), expected.shape);
                vlm.RoiChunkBytes = 37 * channels * g * g * sizeof(float);   // 37 boxes per chunk
                var chunked = tensor(RegionEmbedder.Embed(vlm, maps.Take(scaling.Scales.Count).ToArray(), corners, scaling), expected.shape);

                Assert.That((actual - expected).abs().max().item<float>(), Is.LessThan(1e-5f), $"{scaling.Scales.Count} scales");
                Assert.That((chunked - actual).abs().max().item<float>(), Is.EqualTo(0f), "chunks give the same embeddings");
            }
        }
        finally
        {
            foreach (var pin in pins) pin.Free();
        }
    }

    [Test]
    public void WrongFactorizedGraphIsNamed()
    {
        string folder = CopyOfTinyVlm(m => m["region_projector"]!["channels"] = 767);
        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("region_projector.onnx").And.Contain("'projected_map'").And.Contain("767"));

        folder = CopyOfTinyVlm();
        File.Delete(Path.Combine(folder, "region_attention.onnx"));
        Assert.That(Assert.Throws<FileNotFoundException>(() => FrozenVlm.Load(folder).Dispose())!.Message, Does.Contain("region_attention.onnx"));
    }

    [Test]
    public void FactorizedGraphsWithOtherWeightsAreRefused()
    {
        // Same names, shapes and dtypes, other weights: 4 KB in the middle of the projector's weight
        // data (the file is almost all weights) become 0x40 bytes, a float of about 3.0 at any alignment.
        string folder = CopyOfTinyVlm();
        string projector = Path.Combine(folder, "region_projector.onnx");
        byte[] bytes = File.ReadAllBytes(projector);
        Array.Fill(bytes, (byte)0x40, bytes.Length / 2, 4096);
        File.WriteAllBytes(projector, bytes);

        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("region_projector.onnx and region_attention.onnx do not reproduce region_pooler.onnx"));
    }

    /// <summary>What the exporter wrote before the factorized region path: no region projector or attention.</summary>
    private static void AsVersion1(JsonObject manifest)
    {
        manifest["version"] = 1;
        manifest.Remove("region_projector");
        manifest.Remove("region_attention");
    }

    [Test]
    public void FilesForAModelZipAreTheLoadedOnes()
    {
        string folder = CopyOfTinyVlm();
        using var vlm = FrozenVlm.Load(folder);
        byte[] loaded = File.ReadAllBytes(Path.Combine(folder, "manifest.json"));
        Assert.That(vlm.Manifest.FileNames, Is.EqualTo(new[]
        {
            "manifest.json", "image_encoder.onnx", "region_pooler.onnx", "text_encoder.onnx", "merges.txt", "templates.txt", "region_projector.onnx", "region_attention.onnx",
        }));

        // The folder changes after loading (a re-export): the zip must not pair the old manifest with new graphs.
        File.WriteAllText(Path.Combine(folder, "manifest.json"), "{}");
        using (var manifest = vlm.OpenLoadedFile("manifest.json"))
        using (var copy = new MemoryStream())
        {
            manifest.CopyTo(copy);
            Assert.That(copy.ToArray(), Is.EqualTo(loaded));
        }
        File.AppendAllText(Path.Combine(folder, "region_pooler.onnx"), "x");
        var error = Assert.Throws<InvalidOperationException>(() => vlm.OpenLoadedFile("region_pooler.onnx").Dispose());
        Assert.That(error!.Message, Does.Contain("region_pooler.onnx").And.Contain("changed since the folder was loaded"));
        vlm.OpenLoadedFile("text_encoder.onnx").Dispose();
    }

    [Test]
    public void ManifestWithAByteOrderMarkLoads()
    {
        string folder = CopyOfTinyVlm();
        string path = Path.Combine(folder, "manifest.json");
        File.WriteAllBytes(path, [.. "\uFEFF"u8, .. File.ReadAllBytes(path)]);
        using var vlm = FrozenVlm.Load(folder);
        Assert.That(vlm.Manifest.EmbeddingDim, Is.GreaterThan(0));
    }

    [Test]
    public void MissingGraphIsNamed()
    {
        string folder = CopyOfTinyVlm();
        File.Delete(Path.Combine(folder, "region_pooler.onnx"));
        var error = Assert.Throws<FileNotFoundException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("region_pooler.onnx"));
    }

    [Test]
    public void WrongTensorNameIsNamed()
    {
        string folder = CopyOfTinyVlm(m => m["image_encoder"]!["feature_levels"]![0]!["name"] = "c9");
        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("image_encoder.onnx").And.Contain("'c9'").And.Contain("c2"));
    }

    [Test]
    public void WrongShapeIsNamed()
    {
        string folder = CopyOfTinyVlm(m => m["image_encoder"]!["feature_levels"]![3]!["channels"] = 255);
        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("image_encoder.onnx").And.Contain("'c5'").And.Contain("[?, 255, ?, ?]").And.Contain("[?, 256, ?, ?]"));
    }

    [Test]
    public void WrongDtypeIsNamed()
    {
        // The text encoder's entry points at the region pooler, whose input is float, not int64 ids.
        string folder = CopyOfTinyVlm(m =>
        {
            m["text_encoder"]!["file"] = "region_pooler.onnx";
            m["text_encoder"]!["input"] = "roi_features";
        });
        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("region_pooler.onnx").And.Contain("'roi_features'").And.Contain("Int64").And.Contain("Float"));
    }

    [Test]
    public void BadManifestsAreNamed()
    {
        string folder = CopyOfTinyVlm(m => m.Remove("embedding_dim"));
        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("manifest.json").And.Contain("'embedding_dim'"));

        folder = CopyOfTinyVlm(m => m["version"] = 3);
        error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("version 3").And.Contain("up to 2"));

        folder = CopyOfTinyVlm(m => m.Remove("region_attention"));
        error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("'region_attention'").And.Contain("come together"));

        folder = CopyOfTinyVlm(m => m["version"] = 1);
        error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("'version'").And.Contain("2 or more for region_projector"));

        folder = CopyOfTinyVlm(m => m["tokenizer"]!["end_id"] = 7);
        error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("'tokenizer.end_id'").And.Contain("523"));

        folder = CopyOfTinyVlm();
        File.WriteAllText(Path.Combine(folder, "manifest.json"), "{ \"format\": ");
        error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(folder).Dispose());
        Assert.That(error!.Message, Does.Contain("manifest.json").And.Contain("not valid"));
    }

    [Test]
    public void CudaWithoutFallbackFailsClearlyAndFallbackRunsOnCpu()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FrozenVlm.Load(TinyModels.VlmFolder, new VlmSessionOptions { GpuDeviceId = 0 }).Dispose());
        // The tests reference ONNX Runtime's CPU build, which has no CUDA provider: the error says which package has one.
        Assert.That(error!.Message, Does.Contain("CUDA device 0").And.Contain("Microsoft.ML.OnnxRuntime.Gpu").And.Contain("FallbackToCpu"));

        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder, new VlmSessionOptions { GpuDeviceId = 0, FallbackToCpu = true, IntraOpThreads = 1 });
        Assert.That(vlm.RunsOnGpu, Is.False);
    }

    [Test]
    public void AMissingNativeOnnxRuntimeIsFoundBehindItsTypeInitializer()
    {
        // What ONNX Runtime's managed API throws when the application references no native build.
        var missing = new DllNotFoundException("Unable to load shared library 'onnxruntime'");
        var thrown = new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", missing);
        Assert.That(OnnxGraph.MissingNativeLibrary(thrown), Is.SameAs(missing));
        Assert.That(OnnxGraph.MissingNativeLibrary(new InvalidDataException("not a model")), Is.Null);
    }

    private readonly List<string> _copies = [];

    [TearDown]
    public void DeleteCopies()
    {
        foreach (string folder in _copies) Directory.Delete(folder, recursive: true);
        _copies.Clear();
    }

    private string CopyOfTinyVlm(Action<JsonObject>? editManifest = null)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-tiny-{Guid.NewGuid():N}");
        _copies.Add(folder);
        Directory.CreateDirectory(folder);
        foreach (string file in Directory.GetFiles(TinyModels.VlmFolder))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        if (editManifest is not null)
        {
            string path = Path.Combine(folder, "manifest.json");
            var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            editManifest(manifest);
            File.WriteAllText(path, manifest.ToJsonString());
        }
        return folder;
    }
}
