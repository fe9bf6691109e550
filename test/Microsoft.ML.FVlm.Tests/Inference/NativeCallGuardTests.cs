using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>
/// Inference keeps its native calls inside no-GC regions (NativeCallGuard: a collection during a
/// TorchSharp call can finalise a temporary Scalar that libtorch still reads). A region whose work
/// allocates more than its budget is ended by the runtime, and the rest of that work runs unguarded.
/// </summary>
[NonParallelizable]
public class NativeCallGuardTests
{
    [Test]
    public void ABatchOfTheShippedDetectorStaysInsideItsRegions()
    {
        using var scenes = new RenderedShapes(new ShapesOptions { Split = ShapesSplit.Val, ImageCount = 4, Seed = 21, ImageSize = 320 }, "guard");
        var images = scenes.ImagePaths().Select(MLImage.CreateFromFile).ToArray();
        using var detector = (FVlmTransformer)new MLContext().Model.Load(ShapesDetector.ModelFile, out _);
        Assert.That(detector.RegionScaling.IsSingle, Is.False, "the shipped detector reads the VLM at several scales, the most managed memory");

        int before = NativeCallGuard.RegionsEndedEarly;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var detections = detector.Detect(images);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        Assert.That(detections.Sum(d => d.Count), Is.GreaterThan(0));
        Assert.That(NativeCallGuard.RegionsEndedEarly - before, Is.EqualTo(0), $"{allocated >> 20} MB allocated for 4 images");
        foreach (var image in images) image.Dispose();
    }
}
