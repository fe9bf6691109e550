using System.IO.Compression;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>
/// <c>fvlm upgrade</c> writes a zip saved before format 0x00010007 (no head graphs) again with them: the shipped detector
/// with its graphs removed comes back with the same graphs, every other entry's payload as it was, and loads without
/// making its TorchSharp head.
/// </summary>
[NonParallelizable]
public class UpgradeCommandTests
{
    [Test]
    public void AnOlderZipIsWrittenAgainWithTheHeadsGraphs()
    {
        string folder = Directory.CreateTempSubdirectory("fvlm-upgrade-").FullName;
        try
        {
            string old = Path.Combine(folder, "old.zip"), upgraded = Path.Combine(folder, "upgraded.zip");
            File.Copy(ShapesDetector.ModelFile, old);
            using (var archive = ZipFile.Open(old, ZipArchiveMode.Update))
                archive.Entries.Single(e => e.Name == "HeadGraphs.bin").Delete();

            var (code, output) = CliRunner.Run("upgrade", "--model", old, "--out", upgraded);

            Assert.That(code, Is.EqualTo(0), output);
            Assert.That(output, Does.Contain("the head's graphs included"));
            var shipped = Entries(ShapesDetector.ModelFile);
            var written = Entries(upgraded);
            Assert.That(written.Keys, Is.EquivalentTo(shipped.Keys));
            foreach (string name in shipped.Keys)
                Assert.That(written[name], Is.EqualTo(shipped[name]), name);
            using var loaded = (FVlmTransformer)new MLContext().Model.Load(upgraded, out _);
            Assert.That(loaded.Model.HeadIsMade, Is.False);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void WritingOverTheModelIsRefused()
    {
        var (code, output) = CliRunner.Run("upgrade", "--model", ShapesDetector.ModelFile, "--out", ShapesDetector.ModelFile);

        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("--out is --model"));
    }

    /// <summary>Each entry's bytes by name.</summary>
    private static Dictionary<string, byte[]> Entries(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return archive.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
    }
}
