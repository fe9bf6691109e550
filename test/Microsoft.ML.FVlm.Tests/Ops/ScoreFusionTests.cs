using Microsoft.ML.FVlm.Inference;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

/// <summary>F-VLM's ensemble on hand-made probabilities; the expected figures were computed by hand (powers, then sums), not by the code under test.</summary>
public class ScoreFusionTests
{
    [Test]
    public void BaseAndNovelClassesUseTheirOwnWeights()
    {
        using var scope = NewDisposeScope();
        var detection = tensor(new float[] { 0.2f, 0.5f, 0.3f }, [1, 3]);
        var vlm = tensor(new float[] { 0.1f, 0.9f }, [1, 2]);

        float[] fused = ScoreFusion.Fuse(detection, vlm, [false, true], 0.35, 0.65, renormalise: false).data<float>().ToArray();

        Assert.That(fused[0], Is.EqualTo(0.2f), "background is the detector's");
        // 0.5^0.65 * 0.1^0.35 and 0.3^0.35 * 0.9^0.65.
        Assert.That(fused[1], Is.EqualTo(0.284663).Within(1e-6));
        Assert.That(fused[2], Is.EqualTo(0.612703).Within(1e-6));
    }

    [Test]
    public void TheReferenceDividesEachRowByItsSumWhichCanReorderBoxes()
    {
        using var scope = NewDisposeScope();
        // Box A: the detector sees mostly background; box B: mostly the novel class.
        var detection = tensor(new float[] { 0.7f, 0.25f, 0.05f, 0.02f, 0.2f, 0.78f }, [2, 3]);
        var vlm = tensor(new float[] { 0.95f, 0.05f, 0.6f, 0.4f }, [2, 2]);
        bool[] isNovel = [false, true];

        float[] raw = ScoreFusion.Fuse(detection, vlm, isNovel, 0.35, 0.65, renormalise: false).data<float>().ToArray();
        float[] reference = ScoreFusion.Fuse(detection, vlm, isNovel, 0.35, 0.65, renormalise: true).data<float>().ToArray();

        // Before the division: [0.7, 0.25^0.65 * 0.95^0.35, 0.05^0.35 * 0.05^0.65] and
        // [0.02, 0.2^0.65 * 0.6^0.35, 0.78^0.35 * 0.4^0.65], whose sums are 1.148900 and 0.819107.
        Assert.That(raw, Is.EqualTo(new[] { 0.7f, 0.398900f, 0.05f, 0.02f, 0.293780f, 0.505327f }).Within(1e-5));
        Assert.That(reference, Is.EqualTo(new[] { 0.609278f, 0.347202f, 0.043520f, 0.024417f, 0.358659f, 0.616924f }).Within(1e-5));
        Assert.That(reference[0] + reference[1] + reference[2], Is.EqualTo(1f).Within(1e-6));
        Assert.That(reference[3] + reference[4] + reference[5], Is.EqualTo(1f).Within(1e-6));
        Assert.That(reference[0] / reference[1], Is.EqualTo(raw[0] / raw[1]).Within(1e-5), "within a row the order of the classes stays");
        // Across rows it does not: class 0 ranks A first without the division (0.399 > 0.294), B first with it (0.347 < 0.359).
        Assert.That(raw[1], Is.GreaterThan(raw[4]));
        Assert.That(reference[1], Is.LessThan(reference[4]));
    }

    [Test]
    public void TheObjectnessWeightRaisesEachProposalsObjectnessToItsPower()
    {
        using var scope = NewDisposeScope();
        var fused = tensor(new float[] { 0.5f, 0.3f, 0.2f, 0.1f, 0.6f, 0.3f }, [2, 3]);
        var objectness = tensor(new float[] { 0.64f, 0.25f });

        float[] weighed = ScoreFusion.WeighByObjectness(fused, objectness, 0.5).data<float>().ToArray();
        float[] unweighed = ScoreFusion.WeighByObjectness(fused, objectness, 0).data<float>().ToArray();

        // sqrt(0.64) = 0.8 and sqrt(0.25) = 0.5.
        Assert.That(weighed, Is.EqualTo(new[] { 0.4f, 0.24f, 0.16f, 0.05f, 0.3f, 0.15f }).Within(1e-6));
        Assert.That(unweighed, Is.EqualTo(fused.data<float>().ToArray()));
        Assert.Throws<ArgumentException>(() => ScoreFusion.WeighByObjectness(fused, tensor(new float[] { 0.5f }), 0.5));
    }

    [Test]
    public void MismatchedShapesAreRefusedWithTheShapesInTheMessage()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => ScoreFusion.Fuse(zeros(3, 4), zeros(2, 3), [false, false, true], 0.35, 0.65, renormalise: true));
        Assert.That(error!.Message, Does.Contain("[3, 4]").And.Contain("[2, 3]"));
    }
}
