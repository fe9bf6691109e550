using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// A model zip saved under one ML.NET major of the supported range loads under the other with identical
/// detections. The file is compiled into both test projects: from the main one (ML.NET 5) the zip goes to the probe
/// on ML.NET 6, from Microsoft.ML.FVlm.Tests.MlNet6 to the probe on ML.NET 5.
/// </summary>
[NonParallelizable]
public class CrossVersionZipTests
{
    [Test]
    public void TheShippedDetectorSavedHereDetectsIdenticallyUnderTheOtherMlNetMajor()
    {
        string here = MlNetCompatibility.LoadedVersion, there = ModelLoadProbe.MlNetVersion(otherMlNet: true);
        Assert.That(Major(there), Is.Not.EqualTo(Major(here)), $"the premise: the other probe runs another ML.NET major (here {here}, there {there})");
        Assert.That(new[] { Major(here), Major(there) }, Is.All.InRange(5, 6), "both in the supported range");

        using var scenes = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 3, Seed = 33, ImageSize = 320 }, "cross-version");
        string[] images = scenes.ImagePaths();
        var ml = new MLContext(seed: 0);
        using var detector = (FVlmTransformer)ml.Model.Load(ShapesDetector.ModelFile, out var inputSchema);
        string zip = Path.Combine(scenes.Folder, $"saved-under-ml-net-{here}.zip");
        ml.Model.Save(detector, inputSchema, zip);

        var input = ml.Data.LoadFromEnumerable(images.Select(p => new ImageRow { ImagePath = p }));
        var loaded = ml.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath)).Fit(input).Transform(input);
        var expected = DetectionRow.ReadAll(detector.Transform(loaded));
        Assert.That(expected.Sum(r => r.Labels.Length), Is.GreaterThan(0), "the premise: the scenes have detections to compare");

        var probe = ModelLoadProbe.RunDetect(zip, images, otherMlNet: true);

        ModelLoadProbe.AssertDetections(probe, expected.Select(r => new ModelLoadProbe.Detections(
            r.Labels.Select(k => detector.Vocabulary.Names[(int)k - 1]).ToArray(), r.Scores, r.Boxes, r.Masks)).ToArray());
    }

    private static int Major(string version) => int.Parse(version.Split('.')[0]);

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }
}
