using Microsoft.ML.FVlm.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class BoxCoderTests
{
    [Test]
    public void EncodeThenDecodeReturnsTheTargets()
    {
        torch.manual_seed(1);
        using var scope = NewDisposeScope();
        var references = RandomBoxes(50);
        var targets = RandomBoxes(50);
        var coder = new BoxCoder(10, 10, 5, 5);

        var decoded = coder.Decode(coder.Encode(references, targets), references);

        Assert.That((decoded - targets).abs().max().item<float>(), Is.LessThan(1e-3f));
    }

    [Test]
    public void EncodesByHand()
    {
        using var scope = NewDisposeScope();
        // Reference: centre (15, 30), size 10 x 20. Target: centre (20, 30), size 20 x 10.
        var deltas = new BoxCoder(10, 10, 5, 5).Encode(tensor(new float[] { 10, 20, 20, 40 }, [1, 4]), tensor(new float[] { 10, 25, 30, 35 }, [1, 4]));
        float[] d = deltas.data<float>().ToArray();
        Assert.That(d[0], Is.EqualTo(10 * 5f / 10).Within(1e-5));
        Assert.That(d[1], Is.EqualTo(0f).Within(1e-5));
        Assert.That(d[2], Is.EqualTo(5 * MathF.Log(2)).Within(1e-5));
        Assert.That(d[3], Is.EqualTo(5 * MathF.Log(0.5f)).Within(1e-5));
    }

    [Test]
    public void DecodingClampsHugeScales()
    {
        using var scope = NewDisposeScope();
        var boxes = new BoxCoder(1, 1, 1, 1).Decode(tensor(new float[] { 0, 0, 100, 100 }, [1, 4]), tensor(new float[] { 0, 0, 16, 16 }, [1, 4]));
        float[] b = boxes.data<float>().ToArray();
        // exp(min(100, log(1000 / 16))) * 16 = 1000 pixels wide, centred at 8.
        Assert.That(b[2] - b[0], Is.EqualTo(1000f).Within(1e-2));
        Assert.That(float.IsFinite(b[3]), Is.True);
    }

    internal static Tensor RandomBoxes(int count, float extent = 300)
    {
        var corner = rand(count, 2) * extent;
        var size = rand(count, 2) * extent / 3 + 1;
        return cat([corner, corner + size], 1);
    }
}
