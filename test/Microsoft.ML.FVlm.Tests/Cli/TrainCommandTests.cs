using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Tests.Vlm;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary><c>fvlm train</c>'s checks of its outputs and of <c>--resume</c>, with the tiny VLM on a few small Shapes scenes.</summary>
[NonParallelizable]
public class TrainCommandTests
{
    private string _folder = "";
    private string _data = "";

    [OneTimeSetUp]
    public void RenderScenes()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"fvlm-train-cli-{Guid.NewGuid():N}");
        _data = Path.Combine(_folder, "data");
        new ShapesGenerator(new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = 4, Seed = 5, ImageSize = 96, MaxInstances = 3 }).Generate(_data);
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_folder, recursive: true);

    /// <summary>A short run of the tiny head: 96 px canvas, 16 channels, 2 images a step.</summary>
    private (int ExitCode, string Output) Train(string vlm, string zip, params string[] more) => CliRunner.Run(
        ["train", "--vlm", vlm, "--data", _data, "--out", zip, "--image-size", "96", "--batch-size", "2", "--roi-samples", "32", "--mask-pixel-channels", "0", .. more]);

    [Test]
    public void OutputsAreCheckedBeforeTheVlmIsLoaded()
    {
        // A VLM folder that does not exist: any error but the output's would come from loading it, after the checks.
        const string missingVlm = "/nonexistent/vlm";
        string blocker = Path.Combine(_folder, "a-file");
        File.WriteAllText(blocker, "not a folder");

        var (code, output) = Train(missingVlm, Path.Combine(blocker, "model.zip"), "--steps", "1");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.StartWith("error: --out:").And.Contain(blocker).And.Not.Contain("nonexistent"));

        string folder = Path.Combine(_folder, "a-folder.zip");
        Directory.CreateDirectory(folder);
        (code, output) = Train(missingVlm, folder, "--steps", "1");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.StartWith("error: --out:").And.Contain(folder).And.Contain("is a folder"));

        // Checkpoints go to <out>.checkpoints: here a file stands in the way.
        string zip = Path.Combine(_folder, "blocked", "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(zip)!);
        File.WriteAllText(Path.ChangeExtension(zip, ".checkpoints"), "not a folder");
        (code, output) = Train(missingVlm, zip, "--steps", "1", "--checkpoint-every", "1");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.StartWith("error: --checkpoint-every:").And.Contain(Path.ChangeExtension(zip, ".checkpoints")));
        Assert.That(File.Exists(zip), Is.False);
    }

    [Test]
    public void ResumeNamesTheCheckpointTheTensorAndTheOption()
    {
        string zip = Path.Combine(_folder, "resume", "model.zip");
        var (code, output) = Train(TinyModels.VlmFolder, zip, "--steps", "2", "--checkpoint-every", "1", "--head-channels", "16");
        Assert.That(code, Is.EqualTo(0), output);
        string checkpoint = Path.Combine(Path.ChangeExtension(zip, ".checkpoints"), "checkpoint-0000001.bin");
        Assert.That(File.Exists(checkpoint), checkpoint);

        (code, output) = Train(TinyModels.VlmFolder, zip, "--steps", "2", "--head-channels", "8", "--resume", checkpoint);
        Assert.That(code, Is.EqualTo(1), output);
        // The tiny VLM's context is 8 tokens: its text embeddings warn first, on standard error.
        Assert.That(ErrorLine(output), Does.StartWith("error: --resume:").And.Contain(checkpoint));
        Assert.That(output, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(output, Does.Contain("'fpn.").And.Contain("[16, ").And.Contain("[8, "));
        Assert.That(output, Does.Contain("PyramidChannels (--head-channels) is 16 in the checkpoint and 8 here"));

        string truncated = Path.Combine(_folder, "resume", "truncated.bin");
        var bytes = File.ReadAllBytes(checkpoint);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        (code, output) = Train(TinyModels.VlmFolder, zip, "--steps", "2", "--head-channels", "16", "--resume", truncated);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(ErrorLine(output), Does.StartWith("error: --resume:").And.Contain(truncated).And.Contain("truncated"));
        Assert.That(output, Does.Not.Contain("EndOfStreamException").And.Not.Contain("   at "));
    }

    /// <summary>The one line of the output that reports the error (warnings may come before it).</summary>
    private static string ErrorLine(string output) => output.Split('\n').Single(line => line.StartsWith("error:", StringComparison.Ordinal));
}
