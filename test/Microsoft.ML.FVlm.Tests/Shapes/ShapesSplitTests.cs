using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class ShapesSplitTests
{
    private const int TrainImages = 200;

    [Test]
    public void TrainBaseNeverAnnotatesNovelCategoriesButRendersThem()
    {
        using var folder = new ShapesTestFolder();
        var options = new ShapesOptions { Split = ShapesSplit.TrainBase, ImageCount = TrainImages, ImageSize = 96, Seed = 21 };
        var generator = new ShapesGenerator(options);
        var dataset = CocoJson.ReadDataset(generator.Generate(folder.Path).AnnotationFile);
        var novel = ShapesWorld.Categories.Where(c => c.IsNovel).Select(c => (long)c.Id).ToHashSet();

        Assert.That(dataset.Annotations.Where(a => novel.Contains(a.CategoryId)), Is.Empty);
        Assert.That(dataset.Annotations, Is.Not.Empty);
        foreach (var image in dataset.Images)
        {
            Assert.That(image.NegCategoryIds!.Where(novel.Contains), Is.Empty, image.FileName);
            Assert.That(image.NotExhaustiveCategoryIds!.Where(novel.Contains), Is.Empty, image.FileName);
        }
        Assert.That(dataset.Categories.Where(c => c.Frequency == "r").Select(c => c.ImageCount), Is.All.EqualTo(0));

        // Every novel category is in the pixels of some training image.
        var seen = Enumerable.Range(0, TrainImages)
            .SelectMany(i => generator.RenderScene(i).Instances)
            .Where(i => i.Category.IsNovel && i.VisibleArea > 0)
            .Select(i => (long)i.Category.Id)
            .ToHashSet();
        Assert.That(seen, Is.EquivalentTo(novel));
    }

    [Test]
    public void FrequencyGroupsHoldTheirTrainingImageCounts()
    {
        using var folder = new ShapesTestFolder();
        var options = new ShapesOptions { Split = ShapesSplit.TrainAll, ImageCount = TrainImages, ImageSize = 96, Seed = 21 };
        var dataset = CocoJson.ReadDataset(new ShapesGenerator(options).Generate(folder.Path).AnnotationFile);

        foreach (var category in dataset.Categories)
        {
            var annotations = dataset.Annotations.Where(a => a.CategoryId == category.Id).ToList();
            int images = annotations.Select(a => a.ImageId).Distinct().Count();
            Assert.That(category.ImageCount, Is.EqualTo(images), category.Name);
            Assert.That(category.InstanceCount, Is.EqualTo(annotations.Count), category.Name);
            string expected = ShapesWorld.GetCategory((int)category.Id).FrequencyCode;
            Assert.That(category.Frequency, Is.EqualTo(expected), category.Name);
            // Rule at 200 images: rare <= 2, common 3..20, frequent > 20.
            Assert.That(ShapesFrequencyRule.Classify(images, TrainImages).ToString()[0..1].ToLowerInvariant(), Is.EqualTo(expected),
                $"{category.Name}: {images} images");
        }
        // Rare categories are annotated in train-all (the oracle), in at least one image each.
        Assert.That(dataset.Categories.Where(c => c.Frequency == "r").Select(c => c.ImageCount), Is.All.GreaterThanOrEqualTo(1));
    }

    [Test]
    public void CaptionsSplitHasCropsAndScenesWithCaptionsForAllCategories()
    {
        using var folder = new ShapesTestFolder();
        var options = new ShapesOptions { Split = ShapesSplit.Captions, ImageCount = 60, ImageSize = 128, CropSize = 64, Seed = 4 };
        var generator = new ShapesGenerator(options);
        var result = generator.Generate(folder.Path);
        int crops = 0, novel = 0;
        for (int index = 0; index < 60; index++)
        {
            var scene = generator.RenderScene(index);
            Assert.That(scene.Width, Is.EqualTo(scene.IsCrop ? 64 : 128));
            var annotated = scene.Instances.Where(i => i.IsAnnotated).ToList();
            if (scene.IsCrop)
            {
                crops++;
                Assert.That(annotated, Has.Count.EqualTo(1));
                Assert.That(scene.Caption, Is.EqualTo(annotated[0].Caption));
            }
            foreach (var instance in annotated)
            {
                Assert.That(scene.Caption, Does.Contain($"{instance.Color.Name} {instance.Category.Name}")
                    .Or.Contain($"{instance.Color.Name} {instance.Category.PluralName}"));
                novel += instance.Category.IsNovel ? 1 : 0;
            }
        }
        Assert.That(crops, Is.InRange(35, 55), "about 75% crops");
        Assert.That(novel, Is.GreaterThan(0));

        string json = File.ReadAllText(result.AnnotationFile);
        var first = generator.RenderScene(0);
        Assert.That(json, Does.Contain($"\"caption\":\"{first.Caption}\""));
        Assert.That(json, Does.Contain("\"color\":\"").And.Contain("\"kind\":\"crop\""));
    }
}
