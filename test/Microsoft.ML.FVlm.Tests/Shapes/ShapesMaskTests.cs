using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Tests.Shapes;

public class ShapesMaskTests
{
    [Test]
    public void EveryMaskIsExactlyTheVisiblePixelsOfItsInstance()
    {
        var generator = new ShapesGenerator(new ShapesOptions { ImageCount = 20, ImageSize = 128, Seed = 5 });
        int occluded = 0, droppedForOcclusion = 0, instances = 0;
        for (int index = 0; index < 20; index++)
        {
            var scene = generator.RenderScene(index);
            for (int k = 0; k < scene.Instances.Count; k++)
            {
                var instance = scene.Instances[k];
                var expected = scene.InstanceMap.Select(id => (byte)(id == k + 1 ? 1 : 0)).ToArray();
                int count = expected.Count(v => v == 1);
                string where = $"image {index} instance {k} ({instance.Category.Name}, {instance.Style})";

                Assert.That(CocoMask.Decode(instance.Mask), Is.EqualTo(expected), where);
                Assert.That(CocoMask.Area(instance.Mask), Is.EqualTo(count), where);
                Assert.That(instance.VisibleArea, Is.EqualTo(count), where);
                Assert.That(instance.Box, Is.EqualTo(TightBox(expected, scene.Width, scene.Height)), where);
                bool visibleEnough = count >= 16 && count >= 0.3 * instance.PaintedArea;
                Assert.That(instance.IsAnnotated, Is.EqualTo(visibleEnough), where);

                instances++;
                if (count < instance.PaintedArea)
                    occluded++;
                if (!visibleEnough && count > 0)
                    droppedForOcclusion++;
            }
        }
        // The sample really exercises occlusion and the visibility rule.
        Assert.That(occluded, Is.GreaterThan(instances / 10));
        Assert.That(droppedForOcclusion, Is.GreaterThan(0));
    }

    [Test]
    public void FilesAgreeWithTheInMemoryScenes()
    {
        using var folder = new ShapesTestFolder();
        var options = new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 10, ImageSize = 128, Seed = 8 };
        var generator = new ShapesGenerator(options);
        var result = generator.Generate(folder.Path);
        var dataset = CocoJson.ReadDataset(result.AnnotationFile);

        Assert.That(dataset.Images, Has.Count.EqualTo(10));
        Assert.That(dataset.Categories.Select(c => c.Frequency), Is.EqualTo(ShapesWorld.Categories.Select(c => c.FrequencyCode)));
        long nextAnnotationId = 1;
        for (int index = 0; index < 10; index++)
        {
            var scene = generator.RenderScene(index);
            var image = dataset.Images[index];
            Assert.That(image.Id, Is.EqualTo(index + 1));
            Assert.That(image.FileName, Is.EqualTo($"val/{index:D6}.png"));
            using (var bitmap = SKBitmap.Decode(Path.Combine(folder.Path, image.FileName)))
                Assert.That(Rgb(bitmap), Is.EqualTo(scene.Pixels), image.FileName);

            var annotated = scene.Instances.Where(i => i.IsAnnotated).ToList();
            var annotations = dataset.Annotations.Where(a => a.ImageId == image.Id).ToList();
            Assert.That(annotations, Has.Count.EqualTo(annotated.Count));
            for (int a = 0; a < annotations.Count; a++)
            {
                Assert.That(annotations[a].Id, Is.EqualTo(nextAnnotationId++));
                Assert.That(annotations[a].CategoryId, Is.EqualTo(annotated[a].Category.Id));
                var rle = annotations[a].Segmentation!.ToRle(image.Height, image.Width);
                Assert.That(rle, Is.EqualTo(annotated[a].Mask));
                Assert.That(annotations[a].Area, Is.EqualTo(CocoMask.Area(rle)));
                Assert.That(annotations[a].Bbox, Is.EqualTo(CocoMask.ToBox(rle)));
            }

            // LVIS lists, from the instances' visible pixels.
            var present = scene.Instances.Where(i => i.VisibleArea > 0).Select(i => (long)i.Category.Id).ToHashSet();
            var incomplete = scene.Instances.Where(i => i.VisibleArea > 0 && !i.IsAnnotated).Select(i => (long)i.Category.Id).ToHashSet();
            Assert.That(image.NegCategoryIds, Is.EqualTo(Enumerable.Range(1, 48).Select(i => (long)i).Where(i => !present.Contains(i))));
            Assert.That(image.NotExhaustiveCategoryIds, Is.EquivalentTo(incomplete));
        }
    }

    private static double[] TightBox(byte[] mask, int width, int height)
    {
        int left = width, top = height, right = -1, bottom = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (mask[y * width + x] != 0)
                {
                    left = Math.Min(left, x);
                    right = Math.Max(right, x);
                    top = Math.Min(top, y);
                    bottom = Math.Max(bottom, y);
                }
        return right < 0 ? [0, 0, 0, 0] : [left, top, right - left + 1, bottom - top + 1];
    }

    private static byte[] Rgb(SKBitmap bitmap)
    {
        var rgb = new byte[bitmap.Width * bitmap.Height * 3];
        for (int y = 0, i = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                rgb[i++] = c.Red;
                rgb[i++] = c.Green;
                rgb[i++] = c.Blue;
            }
        return rgb;
    }
}
