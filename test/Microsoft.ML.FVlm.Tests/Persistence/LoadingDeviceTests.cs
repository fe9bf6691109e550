using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// A loaded model runs where the loading MLContext says (GpuDeviceId, FallbackToCpu), as ML.NET's ONNX and TorchSharp
/// transformers do, never where the zip was saved: a model trained on a GPU loads on a machine without one.
/// </summary>
public class LoadingDeviceTests
{
    private string _folder = "";
    private string _zip = "";

    [SetUp]
    public void SetUp()
    {
        _folder = Directory.CreateTempSubdirectory("fvlm-device-").FullName;
        _zip = Path.Combine(_folder, "model.zip");
        using var transformer = TinyModels.Transformer();
        new MLContext(seed: 1).Model.Save(transformer, null, _zip);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void AZipSavedOnCudaLoadsAndDetectsOnAMachineWithout()
    {
        if (TorchSharp.torch.cuda.is_available()) Assert.Ignore("This machine has CUDA: the zip's device would be usable.");
        var expected = Detect(new MLContext(), _zip);
        string cuda = Path.Combine(_folder, "cuda.zip");
        File.Copy(_zip, cuda);
        UntrustedModelZipTests.RewriteEntry(cuda, "Options.json", payload =>
        {
            var json = JsonNode.Parse(payload.AsSpan(4))!;
            (json["Device"], json["GpuDeviceId"], json["FallbackToCpu"]) = ("cuda", 0, false);
            byte[] bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
            return [.. BitConverter.GetBytes(bytes.Length), .. bytes];
        });
        Assert.That(OptionsJson(cuda)["Device"]!.GetValue<string>(), Is.EqualTo("cuda"), "the premise: the zip names CUDA");

        using var loaded = (FVlmTransformer)new MLContext().Model.Load(cuda, out _);

        Assert.That((loaded.Model.Device, loaded.Model.Vlm.RunsOnGpu), Is.EqualTo(("cpu", false)));
        Assert.That(Detect(loaded), Is.EqualTo(expected));
    }

    [Test]
    public void TheLoadingContextAsksForTheGpu()
    {
        if (TorchSharp.torch.cuda.is_available()) Assert.Ignore("This machine has CUDA: asking for it succeeds.");
        var expected = Detect(new MLContext(), _zip);

        // ML.NET calls the loader by reflection: its error is the inner exception.
        var error = Assert.Throws<System.Reflection.TargetInvocationException>(() => new MLContext { GpuDeviceId = 0 }.Model.Load(_zip, out _))!.InnerException;
        // Detection runs on ONNX Runtime: its sessions open on the GPU asked for, or say why they cannot.
        Assert.That(error, Is.TypeOf<InvalidOperationException>());
        Assert.That(error!.Message, Does.Contain("CUDA device 0").And.Contain("FallbackToCpu"));

        var fallingBack = new MLContext { GpuDeviceId = 0, FallbackToCpu = true };
        using var loaded = (FVlmTransformer)fallingBack.Model.Load(_zip, out var schema);
        Assert.That((loaded.Model.Device, loaded.Model.Vlm.RunsOnGpu), Is.EqualTo(("cpu", false)), "fallen back to the CPU");
        Assert.That(Detect(loaded), Is.EqualTo(expected));

        // What it saves names no device: the next loading context chooses again.
        string resaved = Path.Combine(_folder, "resaved.zip");
        fallingBack.Model.Save(loaded, schema, resaved);
        var options = OptionsJson(resaved);
        Assert.That((options["Device"]!.GetValue<string>(), options["GpuDeviceId"], options["FallbackToCpu"]!.GetValue<bool>()), Is.EqualTo(("cpu", (JsonNode?)null, false)));
    }

    [TestCase(null, false, false, "cpu")]
    [TestCase(null, true, true, "cpu")]
    [TestCase(1, false, true, "cuda:1")]
    [TestCase(0, true, false, "cpu")]
    public void TheHeadRunsOnTheGpuTheContextNamesWhenTorchSharpSeesCuda(int? gpu, bool fallback, bool cuda, string head)
    {
        var device = MLNetEnvironment.Device(gpu, fallback, cuda);
        Assert.That(device, Is.EqualTo(new MLNetEnvironment.LoadingDevice(head, gpu, fallback)));
    }

    [Test]
    public void NoCudaWithoutFallbackOrANegativeDeviceIsAnError()
    {
        Assert.Throws<InvalidOperationException>(() => MLNetEnvironment.Device(0, fallbackToCpu: false, cudaAvailable: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => MLNetEnvironment.Device(-1, fallbackToCpu: true, cudaAvailable: true));
    }

    private static string[] Detect(MLContext ml, string zip)
    {
        using var loaded = (FVlmTransformer)ml.Model.Load(zip, out _);
        return Detect(loaded);
    }

    private static string[] Detect(FVlmTransformer transformer)
    {
        var images = Enumerable.Range(0, 2).Select(i => TinyModels.RandomImage(64, 64, 70 + i)).ToArray();
        try
        {
            return transformer.Detect(images).Select(d => $"{string.Join(' ', d.Classes)} | {string.Join(' ', d.Scores)} | {string.Join(' ', d.Boxes)}").ToArray();
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    private static JsonNode OptionsJson(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        using var stream = archive.Entries.Single(e => e.FullName.EndsWith("/Options.json", StringComparison.Ordinal)).Open();
        return ModelZipEntries.ReadFramed(stream, "Options.json", 1, (reader, _) => JsonNode.Parse(reader.ReadBytes(reader.ReadInt32()))!);
    }
}
