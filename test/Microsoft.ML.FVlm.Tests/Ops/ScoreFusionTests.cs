using Microsoft.ML.FVlm.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class ScoreFusionTests
{
    [Test]
    public void BaseAndNovelClassesUseTheirOwnWeights()
    {
        using var scope = NewDisposeScope();
        var detection = tensor(new float[] { 0.2f, 0.5f, 0.3f }, [1, 3]);
        var vlm = tensor(new float[] { 0.1f, 0.9f }, [1, 2]);

        float[] fused = ScoreFusion.Fuse(detection, vlm, [false, true], 0.35, 0.65).data<float>().ToArray();

        Assert.That(fused[0], Is.EqualTo(0.2f), "background is the detector's");
        Assert.That(fused[1], Is.EqualTo(MathF.Pow(0.5f, 0.65f) * MathF.Pow(0.1f, 0.35f)).Within(1e-6));
        Assert.That(fused[2], Is.EqualTo(MathF.Pow(0.3f, 0.35f) * MathF.Pow(0.9f, 0.65f)).Within(1e-6));
    }
}
