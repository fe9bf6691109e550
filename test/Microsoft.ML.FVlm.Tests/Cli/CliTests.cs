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
    public void HelpListsEveryVerb()
    {
        var (code, output) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (string verb in new[] { "shapes", "train", "eval", "predict", "evaluate", "vlm-eval", "tokenize", "bench-train" })
            Assert.That(output, Does.Contain(verb));
    }
}
