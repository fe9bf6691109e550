using Microsoft.ML.FVlm.Shapes;
using Microsoft.ML.FVlm.Shapes.Rendering;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class ShapesWorldTests
{
    [Test]
    public void HasFortyEightCategoriesInLvisProportions()
    {
        var categories = ShapesWorld.Categories;
        Assert.That(categories, Has.Count.EqualTo(48));
        Assert.That(categories.Select(c => c.Id), Is.EqualTo(Enumerable.Range(1, 48)));
        Assert.That(categories.Select(c => c.Name).Distinct().Count(), Is.EqualTo(48));
        Assert.That(ShapesWorld.InGroup(ShapeFrequency.Frequent), Has.Count.EqualTo(16));
        Assert.That(ShapesWorld.InGroup(ShapeFrequency.Common), Has.Count.EqualTo(19));
        Assert.That(ShapesWorld.InGroup(ShapeFrequency.Rare), Has.Count.EqualTo(13));
        Assert.That(categories.Where(c => c.IsNovel), Is.EquivalentTo(ShapesWorld.InGroup(ShapeFrequency.Rare)));
        Assert.That(ShapesWorld.GetCategory(17).Name, Is.EqualTo("hexagon"));
        Assert.That(ShapesWorld.GetCategory(17).FrequencyCode, Is.EqualTo("r"));
    }

    [Test]
    public void FrequencyRuleScalesLvisThresholdsToTheSplit()
    {
        // 1000 images: exactly LVIS v1's absolute thresholds (rare 1-10, common 11-100).
        Assert.That(ShapesFrequencyRule.Classify(10, 1000), Is.EqualTo(ShapeFrequency.Rare));
        Assert.That(ShapesFrequencyRule.Classify(11, 1000), Is.EqualTo(ShapeFrequency.Common));
        Assert.That(ShapesFrequencyRule.Classify(100, 1000), Is.EqualTo(ShapeFrequency.Common));
        Assert.That(ShapesFrequencyRule.Classify(101, 1000), Is.EqualTo(ShapeFrequency.Frequent));
        // 50 images: rare at most 1, common at most 5.
        Assert.That(ShapesFrequencyRule.RareMaxImages(50), Is.EqualTo(1));
        Assert.That(ShapesFrequencyRule.CommonMaxImages(50), Is.EqualTo(5));
        // Quotas at 200 images: rare 1 image (bound 2), common 9 images (bounds 3 to 20).
        Assert.That(ShapesFrequencyRule.RareQuota(200), Is.EqualTo(1));
        Assert.That(ShapesFrequencyRule.CommonQuota(200), Is.EqualTo(9));
    }

    [Test]
    public void CaptionsNameColourAndCategoryWithArticlesAndPlurals()
    {
        var red = ShapesWorld.Colors.Single(c => c.Name == "red");
        var blue = ShapesWorld.Colors.Single(c => c.Name == "blue");
        var orange = ShapesWorld.Colors.Single(c => c.Name == "orange");
        var circle = ShapesWorld.Categories.Single(c => c.Name == "circle");
        var arrow = ShapesWorld.Categories.Single(c => c.Name == "arrow");
        var leaf = ShapesWorld.Categories.Single(c => c.Name == "leaf");

        Assert.That(CaptionText.Object(orange, arrow), Is.EqualTo("an orange arrow"));
        Assert.That(CaptionText.Scene([(blue, circle), (orange, arrow), (blue, circle), (red, leaf), (red, leaf), (red, leaf)]),
            Is.EqualTo("two blue circles, an orange arrow and three red leaves"));
        Assert.That(CaptionText.Scene([(red, leaf)]), Is.EqualTo("a red leaf"));
        Assert.That(CaptionText.Scene([]), Is.EqualTo(""));
    }

    [Test]
    public void OptionErrorsNameTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new ShapesGenerator(new ShapesOptions { ImageSize = 10 }));
        Assert.That(e!.Message, Does.StartWith("ImageSize must be between 64 and 4096 (got 10)"));
        e = Assert.Throws<ArgumentException>(() => ShapesSplitNames.Parse("test"));
        Assert.That(e!.Message, Does.Contain("train-base, train-all, val, captions"));
        Assert.That(ShapesSplitNames.Parse("TRAIN-BASE"), Is.EqualTo(ShapesSplit.TrainBase));
    }

    [Test]
    public void EveryFamilyRendersItsOwnPixels()
    {
        // One crop per category: the single object is fully visible and annotated.
        using var renderer = new SceneRenderer(0.3, 16);
        foreach (var category in ShapesWorld.Categories)
        {
            var scene = renderer.Render(96, [category], isCrop: true, ShapesRandom.For(5, 9, category.Id));
            var instance = scene.Instances.Single();
            Assert.That(instance.PaintedArea, Is.GreaterThan(200), category.Name);
            Assert.That(instance.Visible.Area, Is.EqualTo(instance.PaintedArea), category.Name);
            Assert.That(instance.IsVisibleEnough, Is.True, category.Name);
        }
    }
}
