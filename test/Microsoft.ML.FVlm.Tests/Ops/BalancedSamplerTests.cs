using Microsoft.ML.FVlm.Ops;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class BalancedSamplerTests
{
    [Test]
    public void CapsPositivesAndFillsWithNegatives()
    {
        using var scope = NewDisposeScope();
        // 300 positives, 1000 negatives, 50 ignored.
        var labels = cat([ones(300, dtype: ScalarType.Int64), zeros(1000, dtype: ScalarType.Int64), full(50, -1L, dtype: ScalarType.Int64)]);
        var generator = new Generator(42);

        var (positive, negative) = new BalancedSampler(256, 0.5).Sample(labels, generator);

        Assert.That(positive.shape[0], Is.EqualTo(128));
        Assert.That(negative.shape[0], Is.EqualTo(128));
        Assert.That((labels[positive] >= 1).all().item<bool>(), Is.True);
        Assert.That((labels[negative] == 0).all().item<bool>(), Is.True);
        Assert.That(positive.unique().output.shape[0], Is.EqualTo(128), "no index sampled twice");
    }

    [Test]
    public void FewPositivesLeaveRoomForNegatives()
    {
        using var scope = NewDisposeScope();
        var labels = cat([ones(10, dtype: ScalarType.Int64), zeros(1000, dtype: ScalarType.Int64)]);
        var (positive, negative) = new BalancedSampler(512, 0.25).Sample(labels, new Generator(1));
        Assert.That(positive.shape[0], Is.EqualTo(10));
        Assert.That(negative.shape[0], Is.EqualTo(502));
    }

    [Test]
    public void SameSeedSameSample()
    {
        using var scope = NewDisposeScope();
        var labels = cat([ones(100, dtype: ScalarType.Int64), zeros(100, dtype: ScalarType.Int64)]);
        var sampler = new BalancedSampler(64, 0.5);
        var first = sampler.Sample(labels, new Generator(7)).Positive.data<long>().ToArray();
        var second = sampler.Sample(labels, new Generator(7)).Positive.data<long>().ToArray();
        Assert.That(second, Is.EqualTo(first));
    }
}
