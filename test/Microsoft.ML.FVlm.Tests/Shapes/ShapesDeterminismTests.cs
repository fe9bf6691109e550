using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class ShapesDeterminismTests
{
    [TestCase(ShapesSplit.TrainBase)]
    [TestCase(ShapesSplit.Val)]
    [TestCase(ShapesSplit.Captions)]
    public void SameSeedGivesIdenticalBytesWhateverTheParallelism(ShapesSplit split)
    {
        using var folder = new ShapesTestFolder();
        var runs = new[] { 1, 2, 4 }.Select(threads =>
        {
            var options = new ShapesOptions { Split = split, ImageCount = 24, ImageSize = 96, Seed = 11, MaxDegreeOfParallelism = threads };
            return new ShapesGenerator(options).Generate(folder.Sub($"run{threads}"));
        }).ToArray();

        var reference = Files(folder.Sub("run1"));
        Assert.That(reference, Has.Count.EqualTo(25), "24 PNG files and one JSON file");
        foreach (string run in new[] { "run2", "run4" })
        {
            var files = Files(folder.Sub(run));
            Assert.That(files.Keys, Is.EqualTo(reference.Keys));
            foreach (var (name, bytes) in reference)
                Assert.That(files[name], Is.EqualTo(bytes), $"{run}/{name}");
        }
        Assert.That(runs.Select(r => r.AnnotationCount).Distinct().Count(), Is.EqualTo(1));
    }

    [Test]
    public void AnotherSeedGivesOtherImages()
    {
        var a = new ShapesGenerator(new ShapesOptions { ImageCount = 2, ImageSize = 96, Seed = 1 }).RenderScene(1);
        var b = new ShapesGenerator(new ShapesOptions { ImageCount = 2, ImageSize = 96, Seed = 2 }).RenderScene(1);
        Assert.That(a.Pixels, Is.Not.EqualTo(b.Pixels));
    }

    [Test]
    public void TrainBaseAndTrainAllShareTheirImages()
    {
        using var folder = new ShapesTestFolder();
        foreach (var split in new[] { ShapesSplit.TrainBase, ShapesSplit.TrainAll })
            new ShapesGenerator(new ShapesOptions { Split = split, ImageCount = 6, ImageSize = 96, Seed = 3 }).Generate(folder.Sub(split.ToName()));
        var baseImages = Files(Path.Combine(folder.Sub("train-base"), "train"));
        var allImages = Files(Path.Combine(folder.Sub("train-all"), "train"));
        Assert.That(allImages.Keys, Is.EqualTo(baseImages.Keys));
        foreach (var (name, bytes) in baseImages)
            Assert.That(allImages[name], Is.EqualTo(bytes), name);
    }

    private static SortedDictionary<string, byte[]> Files(string root) =>
        new(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes), StringComparer.Ordinal);
}
