using Microsoft.ML.FVlm.Cli;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>The fvlm tool's exit codes and messages, run in-process.</summary>
[NonParallelizable]
public class CliTests
{
    private static (int ExitCode, string Output) Run(params string[] args)
    {
        var (originalOut, originalError) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            int code = Program.Main(args);
            return (code, output + error.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    [Test]
    public void TokenizePrintsOneJsonArrayPerText()
    {
        var (code, output) = Run("tokenize", "--merges", SharedClip.MergesPath, "a photo of a cat.", "naïve résumé");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "[49406,320,1125,539,320,2368,269,49407]",
            "[49406,1097,35689,563,29106,7054,4166,49407]",
        }));
    }

    [Test]
    public void UserErrorsExitWithOneAndNameTheFile()
    {
        var (code, output) = Run("evaluate", "--ground-truth", "/nonexistent/gt.json", "--detections", "/nonexistent/dt.json");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("gt.json"));
    }

    [Test]
    public void SyntaxErrorsExitWithTwo()
    {
        Assert.That(Run("shapes", "--no-such-option").ExitCode, Is.EqualTo(2));
        Assert.That(Run("no-such-verb").ExitCode, Is.EqualTo(2));
    }

    [Test]
    public void DemoDetectsFreshScenesWithTheShippedDetector()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"fvlm-demo-{Guid.NewGuid():N}");
        try
        {
            var (code, output) = Run("demo", "--images", "3", "--out", folder);
            Assert.That(code, Is.EqualTo(0), output);
            Assert.That(output, Does.Contain("13 novel"));
            string page = File.ReadAllText(Path.Combine(folder, "index.html"));
            var drawn = Directory.GetFiles(folder, "*-detections.png");
            Assert.That(drawn, Has.Length.EqualTo(3));
            foreach (var file in drawn) Assert.That(page, Does.Contain(Path.GetFileName(file)));
            var results = Microsoft.ML.FVlm.Data.CocoJson.ReadResults(Path.Combine(folder, "results.json"));
            var novelIds = Microsoft.ML.FVlm.Data.CocoJson.ReadDataset(Path.Combine(folder, "scenes", "val.json")).Categories.Where(c => c.Frequency == "r").Select(c => c.Id).ToHashSet();
            Assert.That(results.Where(r => r.Score >= 0.3).Select(r => r.ImageId).Distinct().Count(), Is.EqualTo(3), "confident detections in every scene");
            Assert.That(results.Any(r => novelIds.Contains(r.CategoryId)), "detections of novel categories");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void HelpListsEveryVerb()
    {
        var (code, output) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (string verb in new[] { "demo", "shapes", "train", "eval", "predict", "evaluate", "vlm-eval", "tokenize", "bench-train", "bench-inference" })
            Assert.That(output, Does.Contain(verb));
    }
}
