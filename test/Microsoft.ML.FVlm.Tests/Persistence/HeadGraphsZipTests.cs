using System.IO.Compression;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// The model zip carries the head as ONNX graphs (HeadGraphs.bin, format 0x00010007): a loaded model detects through them
/// without making the head's TorchSharp modules, and a zip saved before them (no such entry) still loads, its graphs
/// exported from the head on load, with the same detections.
/// </summary>
public class HeadGraphsZipTests
{
    private string _folder = "";
    private string _zip = "";
    private readonly MLContext _ml = new(seed: 1);

    [SetUp]
    public void SetUp()
    {
        _folder = Directory.CreateTempSubdirectory("fvlm-head-graphs-").FullName;
        _zip = Path.Combine(_folder, "model.zip");
        using var transformer = TinyModels.Transformer();
        _ml.Model.Save(transformer, null, _zip);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void ALoadedModelDetectsAndSavesWithoutMakingItsTorchSharpHead()
    {
        using var image = TinyModels.RandomImage(64, 80, seed: 3);
        using var loaded = (FVlmTransformer)_ml.Model.Load(_zip, out _);

        var detections = loaded.Detect([image])[0];
        var renamed = loaded.WithVocabulary(["ring", "a square with rounded corners"]).Detect([image])[0];
        string resaved = Path.Combine(_folder, "resaved.zip");
        _ml.Model.Save(loaded, null, resaved);

        Assert.That(detections.Count, Is.GreaterThan(0), "the premise: the tiny model detects at threshold 0");
        Assert.That(renamed.Count, Is.GreaterThan(0));
        Assert.That(loaded.Model.HeadIsMade, Is.False, "detection, a new vocabulary and saving ran on the graphs");
        Assert.That(Payload(resaved, "Head.bin"), Is.EqualTo(Payload(_zip, "Head.bin")), "the head's weights are written back as they were read");
        Assert.That(Payload(resaved, "HeadGraphs.bin"), Is.EqualTo(Payload(_zip, "HeadGraphs.bin")));
    }

    [Test]
    public void AZipSavedBeforeTheHeadsGraphsLoadsAndSavesWithThem()
    {
        using var image = TinyModels.RandomImage(64, 80, seed: 3);
        string old = Path.Combine(_folder, "old.zip");
        File.Copy(_zip, old);
        using (var archive = ZipFile.Open(old, ZipArchiveMode.Update))
            archive.Entries.Single(e => e.FullName.EndsWith("/HeadGraphs.bin", StringComparison.Ordinal)).Delete();

        using var fromOld = (FVlmTransformer)_ml.Model.Load(old, out _);
        var expected = fromOld.Detect([image])[0];
        string resaved = Path.Combine(_folder, "resaved.zip");
        _ml.Model.Save(fromOld, null, resaved);
        using var fromResaved = (FVlmTransformer)_ml.Model.Load(resaved, out _);
        var actual = fromResaved.Detect([image])[0];

        Assert.That(fromOld.Model.HeadIsMade, Is.True, "without the graphs the head is made on load, to export them");
        Assert.That(fromResaved.Model.HeadIsMade, Is.False, "saved again, the zip carries the graphs");
        Assert.That(expected.Count, Is.GreaterThan(0));
        Assert.That((actual.Classes, actual.Scores, actual.Boxes), Is.EqualTo((expected.Classes, expected.Scores, expected.Boxes)));
        Assert.That(Payload(resaved, "Head.bin"), Is.EqualTo(Payload(old, "Head.bin")));
    }

    /// <summary>The bytes of the entry whose name ends in <paramref name="name"/>.</summary>
    private static byte[] Payload(string zip, string name)
    {
        using var archive = ZipFile.OpenRead(zip);
        using var stream = archive.Entries.Single(e => e.FullName.EndsWith("/" + name, StringComparison.Ordinal)).Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
