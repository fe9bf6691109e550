using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Modeling;

public class DetectorHeadTests
{
    internal static readonly VlmManifest SmallVlm = new()
    {
        Name = "test",
        EmbeddingDim = 16,
        ImageEncoder = new VlmManifest.ImageEncoderSection
        {
            SizeMultiple = 32,
            FeatureLevels =
            [
                new() { Name = "c2", Stride = 4, Channels = 8 },
                new() { Name = "c3", Stride = 8, Channels = 8 },
                new() { Name = "c4", Stride = 16, Channels = 16 },
                new() { Name = "c5", Stride = 32, Channels = 16 },
            ],
        },
    };

    [Test]
    public void TrainingReturnsNamedLossesThatFallOnAFixedBatch()
    {
        torch.manual_seed(21);
        using var scope = NewDisposeScope();
        using var head = DetectorFactory.Create(SmallVlm, TinyModels.Architecture);
        var features = SmallVlm.ImageEncoder.FeatureLevels.Select(l => randn(2, l.Channels, 128 / l.Stride, 128 / l.Stride)).ToArray();
        var masks = zeros(2, 128, 128, dtype: ScalarType.Byte);
        masks[0, 20..60, 30..90] = 1;
        masks[1, 70..120, 10..50] = 1;
        var targets = new[]
        {
            new DetectionTarget(tensor(new float[] { 30, 20, 90, 60 }, [1, 4]), tensor(new long[] { 1 }), masks[0..1]),
            new DetectionTarget(tensor(new float[] { 10, 70, 50, 120 }, [1, 4]), tensor(new long[] { 0 }), masks[1..2]),
        };
        var text = nn.functional.normalize(randn(3, 16), dim: -1);
        var sizes = new (long, long)[] { (128, 128), (128, 128) };
        var optimizer = optim.SGD(head.parameters(), 0.02, momentum: 0.9);

        head.train();
        float first = 0, last = 0;
        for (int step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var output = head.forward(new DetectorInput(features, sizes, text, targets, new Generator((ulong)step)));
            Assert.That(output.Losses!.Keys, Is.EquivalentTo(new[] { "rpn_objectness", "rpn_box", "classification", "box", "mask" }));
            var total = output.Losses.Values.Aggregate((a, b) => a + b);
            total.backward();
            optimizer.step();
            float value = total.item<float>();
            Assert.That(float.IsFinite(value), Is.True, $"step {step}");
            if (step == 0) first = value;
            last = value;
        }
        Assert.That(last, Is.LessThan(first * 0.5f), $"total loss should fall: first {first}, last {last}");

        head.eval();
        using var noGrad = no_grad();
        var inference = head.forward(new DetectorInput(features, sizes, text));
        Assert.That(inference.Proposals, Has.Length.EqualTo(2));
        Assert.That(inference.Regions![0].Probabilities.shape, Is.EqualTo(new[] { inference.Proposals[0].shape[0], 1 + text.shape[0] }));
        Assert.That(inference.Regions[1].Boxes.shape, Is.EqualTo(new[] { inference.Proposals[1].shape[0], 4L }));
        Assert.That(inference.Regions[0].Probabilities.sum(1).sub(1).abs().max().item<float>(), Is.LessThan(1e-5f), "a distribution over [background; vocabulary] per proposal");
        Assert.That(inference.Proposals[0].shape[0], Is.LessThanOrEqualTo(50));
    }
}

public class DetectorHeadEdgeCaseTests
{
    [Test]
    public void ImagesWithoutGroundTruthTrainAsBackground()
    {
        TorchSharp.torch.manual_seed(22);
        using var scope = NewDisposeScope();
        using var head = DetectorFactory.Create(DetectorHeadTests.SmallVlm, TinyModels.Architecture);
        var features = DetectorHeadTests.SmallVlm.ImageEncoder.FeatureLevels.Select(l => randn(1, l.Channels, 64 / l.Stride, 64 / l.Stride)).ToArray();
        var empty = new DetectionTarget(zeros(0, 4), zeros(0, dtype: ScalarType.Int64), zeros(0, 64, 64, dtype: ScalarType.Byte));
        head.train();

        var losses = head.forward(new DetectorInput(features, [(64L, 64L)], nn.functional.normalize(randn(2, 16), dim: -1), [empty], new Generator(1))).Losses!;

        Assert.That(losses["box"].item<float>(), Is.EqualTo(0f), "no positives, no box loss");
        Assert.That(losses["mask"].item<float>(), Is.EqualTo(0f));
        Assert.That(losses["classification"].item<float>(), Is.GreaterThan(0f).And.LessThan(float.PositiveInfinity));
    }
}
