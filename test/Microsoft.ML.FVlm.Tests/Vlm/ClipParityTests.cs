using System.Text.Json;
using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

/// <summary>
/// The C# path (ONNX Runtime sessions, tokenizer, RoIAlign) against PyTorch's float64 outputs for a
/// random-weight CLIP RN50 exported by eng/clip. The fixture is made by
/// <c>eng/clip/make_parity_fixture.sh artifacts</c> (about a minute, 410 MB; .ci/run does it);
/// without it these tests are skipped, except under CI where they fail.
/// </summary>
[NonParallelizable]
public class ClipParityTests
{
    private const double Tolerance = 1e-4;
    private static FrozenVlm? s_vlm;
    private static JsonElement[] s_cases = [];
    private static string s_referenceFolder = "";

    [OneTimeSetUp]
    public void OpenFixture()
    {
        string root = Path.Combine(RepositoryRoot.Path, "artifacts");
        string vlmFolder = Path.Combine(root, "clip-rn50-random");
        s_referenceFolder = Path.Combine(root, "clip-rn50-random-parity");
        if (!File.Exists(Path.Combine(s_referenceFolder, "cases.json")))
        {
            string message = $"RN50 parity fixture missing at '{root}': run eng/clip/make_parity_fixture.sh artifacts";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message);
            Assert.Ignore(message);
        }
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(s_referenceFolder, "cases.json")));
        s_cases = json.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone()).ToArray();
        if (s_cases.All(c => c.GetProperty("name").GetString() != "region_map"))
            Assert.Fail($"RN50 parity fixture at '{root}' predates the factorized region graphs (no region_map case): run eng/clip/make_parity_fixture.sh artifacts again");
        s_vlm = FrozenVlm.Load(vlmFolder);
    }

    [OneTimeTearDown]
    public void Close() => s_vlm?.Dispose();

    [TestCase("image_224")]
    [TestCase("image_160x256")]
    public void ImageEncoderFeatureMaps(string caseName)
    {
        using var scope = NewDisposeScope();
        var testCase = Case(caseName);
        var outputs = s_vlm!.EncodeImages(Input(testCase, "pixel_values"));
        var levels = s_vlm.Manifest.ImageEncoder.FeatureLevels;
        for (int i = 0; i < levels.Length; i++)
            AssertClose(outputs[i], Output(testCase, levels[i].Name), $"{caseName}.{levels[i].Name}");
    }

    [Test]
    public void ImageEmbeddingThroughOwnFeatures()
    {
        using var scope = NewDisposeScope();
        var testCase = Case("image_embedding");
        AssertClose(s_vlm!.PoolRegions(Input(testCase, "roi_features")), Output(testCase, "region_embeddings"), "pooler on reference input");
        // End to end in C#: our own C5 at the pretraining size, straight into the pooler.
        var c5 = s_vlm.EncodeImages(Input(Case("image_224"), "pixel_values"))[^1];
        AssertClose(s_vlm.PoolRegions(c5), Output(testCase, "region_embeddings"), "pooler on C# features");
    }

    [Test]
    public void RegionEmbeddingsThroughOwnRoiAlign()
    {
        using var scope = NewDisposeScope();
        var testCase = Case("region");
        var source = testCase.GetProperty("source");
        var boxes = Npy.Read(Path.Combine(s_referenceFolder, source.GetProperty("boxes").GetProperty("file").GetString()!));
        var c5 = s_vlm!.EncodeImages(Input(Case("image_160x256"), "pixel_values"))[^1];

        var pooled = Microsoft.ML.FVlm.Ops.RoiAlign.Forward(c5, boxes, s_vlm.Manifest.RegionPooler.RoiOutputSize, 1.0 / 32, FrozenVlm.RegionSamplingRatio);
        AssertClose(pooled, Input(testCase, "roi_features"), "RoIAlign vs torchvision");
        AssertClose(s_vlm.PoolRegions(pooled), Output(testCase, "region_embeddings"), "region pooler on C# RoIAlign");
        Assert.That(s_vlm.Manifest.HasFactorizedRegionPath, "the fixture is exported with the factorized region graphs");
        AssertClose(s_vlm.EmbedRegions(c5, boxes), Output(testCase, "region_embeddings"), "region embeddings (factorized)");
    }

    [Test]
    public void FactorizedRegionGraphsOnReferenceInputs()
    {
        using var scope = NewDisposeScope();
        var map = Case("region_map");
        AssertClose(s_vlm!.ProjectRegionMap(Input(map, "region_map")), Output(map, "projected_map"), "region projector");
        var attention = Case("region_factorized");
        var boxes = Npy.Read(Path.Combine(s_referenceFolder, attention.GetProperty("source").GetProperty("boxes").GetProperty("file").GetString()!));
        using var projectedMap = Microsoft.ML.FVlm.Ops.ChannelsLastMap.From(Output(map, "projected_map"));
        var projectedRois = Microsoft.ML.FVlm.Ops.DirectRoiAlign.ForwardChannelsLast(projectedMap, boxes, s_vlm.Manifest.RegionPooler.RoiOutputSize, 1.0 / 32, FrozenVlm.RegionSamplingRatio);
        AssertClose(projectedRois, Input(attention, "projected_roi_features"), "channels-last RoIAlign of the projected map vs torchvision");
        // The region attention graph on torchvision's RoIAlign of the projected map gives the pooler's embeddings.
        var region = Case("region");
        AssertClose(s_vlm.AttendRegions(Input(attention, "projected_roi_features")), Output(region, "region_embeddings"), "region attention");
    }

    [Test]
    public void TextEmbeddingsFromText()
    {
        using var scope = NewDisposeScope();
        var testCase = Case("text");
        string[] texts = testCase.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var expectedIds = Input(testCase, "input_ids");
        long[] ids = s_vlm!.Tokenizer.EncodeBatch(texts, s_vlm.Manifest.TextEncoder.ContextLength);
        Assert.That(ids, Is.EqualTo(expectedIds.data<long>().ToArray()), "token ids");
        AssertClose(s_vlm.EncodeTexts(texts), Output(testCase, "text_embeddings"), "text embeddings");
    }

    [Test]
    public void TextEmbeddingsOfTruncatedIds()
    {
        using var scope = NewDisposeScope();
        var testCase = Case("text_truncated");
        AssertClose(s_vlm!.EncodeTokenIds(Input(testCase, "input_ids")), Output(testCase, "text_embeddings"), "truncated text");
    }

    private static JsonElement Case(string name) => s_cases.Single(c => c.GetProperty("name").GetString() == name);

    private static Tensor Input(JsonElement testCase, string name) => Tensor(testCase.GetProperty("inputs").GetProperty(name));

    private static Tensor Output(JsonElement testCase, string name) => Tensor(testCase.GetProperty("outputs").GetProperty(name));

    private static Tensor Tensor(JsonElement entry) => Npy.Read(Path.Combine(s_referenceFolder, entry.GetProperty("file").GetString()!));

    private static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        double scale = expected.abs().max().item<float>();
        double error = (actual - expected).abs().max().item<float>() / Math.Max(scale, 1e-12);
        TestContext.Out.WriteLine($"{what}: relative error {error:E2}");
        Assert.That(scale, Is.GreaterThan(1e-3), $"{what}: the reference is not all zeros");
        Assert.That(error, Is.LessThanOrEqualTo(Tolerance), $"{what}: relative error");
    }
}
