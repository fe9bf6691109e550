using System.Globalization;
using System.Text.RegularExpressions;

namespace Microsoft.ML.FVlm.Tests.Cli;

/// <summary>Every sample in docs/samples runs and prints what its expected-output comment says.</summary>
[NonParallelizable]
public class SamplesTests
{
    private static string Run(Action example)
    {
        var original = Console.Out;
        using var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            example();
        }
        finally
        {
            Console.SetOut(original);
        }
        TestContext.Progress.Write(output.ToString());
        return output.ToString();
    }

    [Test]
    public void DetectWithACustomVocabulary()
    {
        string output = Run(Samples.DetectWithACustomVocabulary.Example);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Count(l => Regex.IsMatch(l, @"^image \d: \d+ detections")), Is.EqualTo(3));
        var detections = lines.Where(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
        Assert.That(detections, Is.Not.Empty, "some detection scores at least 0.3");
        Assert.That(detections, Is.All.Match(@"^  (hexagon|gear|circle|five-pointed star) (0\.[3-9]\d|1\.00) at \["));
    }

    [Test]
    public void RunTheExportedGraphWithApplyOnnxModel()
    {
        string output = Run(Samples.RunTheExportedGraphWithApplyOnnxModel.Example);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Count(l => Regex.IsMatch(l, @"^image \d: [1-9]\d* detections")), Is.EqualTo(3), output);
        Assert.That(lines.Where(l => l.StartsWith("  ", StringComparison.Ordinal)), Is.Not.Empty.And.All.Match(@"^  (hexagon|gear|circle|five-pointed star) (0\.[3-9]\d|1\.00) at \["));
        Assert.That(output, Does.Contain("the same detections as FVlmTransformer.Detect: yes"));
    }

    [Test]
    public void SaveLoadAndBatchScore()
    {
        string output = Run(Samples.SaveLoadAndBatchScore.Example);
        Assert.That(output, Does.Match(@"^8 images scored, [1-9]\d* detections in all"));
        Assert.That(output, Does.Contain("vocabulary after loading: square, triangle, hexagon"));
    }

    [Test]
    public void EvaluateOnShapes()
    {
        string output = Run(Samples.EvaluateOnShapes.Example);
        var figures = Regex.Matches(output, @"(BoundingBox|Segmentation): AP (\d\.\d{3})").ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        Assert.That(figures.Keys, Is.EquivalentTo(new[] { "BoundingBox", "Segmentation" }));
        Assert.That(figures["BoundingBox"], Is.GreaterThan(0.1), "the shipped detector finds the shapes");
        Assert.That(figures["Segmentation"], Is.GreaterThan(0.05));
    }

    [Test]
    public void TrainOnACocoDataset()
    {
        string output = Run(Samples.TrainOnACocoDataset.Example);
        var loss = Regex.Match(output, @"total loss: step 1 (\d+\.\d+), step 40 (\d+\.\d+)");
        Assert.That(loss.Success, output);
        Assert.That(double.Parse(loss.Groups[2].Value, CultureInfo.InvariantCulture), Is.LessThan(double.Parse(loss.Groups[1].Value, CultureInfo.InvariantCulture) / 2));
        Assert.That(output, Does.Contain("(novel: hexagon)"));
    }
}
