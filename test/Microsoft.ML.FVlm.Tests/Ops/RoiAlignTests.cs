using Microsoft.ML.FVlm.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Ops;

public class RoiAlignTests
{
    [Test]
    public void MatchesDirectBilinearReference()
    {
        torch.manual_seed(3);
        using var scope = NewDisposeScope();
        const int channels = 3, height = 9, width = 13, g = 4, ratio = 2;
        const double scale = 0.25;
        var features = randn(channels, height, width);
        var boxes = tensor(new float[]
        {
            4, 4, 40, 30,        // inside
            -10, -6, 20, 12,     // partly outside the top-left corner
            30, 20, 70, 52,      // partly outside the bottom-right corner
            10, 10, 11, 11,      // tiny
            -30, -30, -12, -12,  // entirely outside: zero
        }, [5, 4]);

        var actual = RoiAlign.Forward(features, boxes, g, scale, ratio);
        var expected = Reference(features.data<float>().ToArray(), channels, height, width, boxes.data<float>().ToArray(), g, scale, ratio);

        Assert.That(actual.shape, Is.EqualTo(new long[] { 5, channels, g, g }));
        float[] values = actual.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.That(values[i], Is.EqualTo(expected[i]).Within(1e-5), $"element {i}");
        Assert.That(values.Skip(4 * channels * g * g), Is.All.EqualTo(0f), "a box more than a pixel outside pools zeros");
    }

    [Test]
    public void InferencePathEqualsTheDifferentiablePath()
    {
        // Without gradients (float32, CPU) RoIAlign runs on arrays; with them, as a sparse matrix product.
        torch.manual_seed(11);
        using var scope = NewDisposeScope();
        var features = randn(1, 20, 17, 23);  // 20 channels: vector lanes and a scalar tail
        var corners = rand(40, 2) * 120 - 20;
        var sizes = rand(40, 2) * 60 + 0.5;
        var boxes = cat([corners, corners + sizes], 1);

        var direct = RoiAlign.Forward(features, boxes, 7, 0.125, 2);
        var differentiable = RoiAlign.Forward(features.clone().requires_grad_(true), boxes, 7, 0.125, 2);

        Assert.That(differentiable.requires_grad, "the training path keeps the graph");
        Assert.That(direct.requires_grad, Is.False);
        Assert.That(direct.shape, Is.EqualTo(differentiable.shape));
        Assert.That((direct - differentiable.detach()).abs().max().item<float>(), Is.LessThan(1e-5f));
    }

    [Test]
    public void GradientMatchesFiniteDifferences()
    {
        torch.manual_seed(5);
        using var scope = NewDisposeScope();
        var features = randn(2, 6, 7, dtype: ScalarType.Float64).requires_grad_(true);
        var boxes = tensor(new double[] { 2, 3, 20, 18, -4, 1, 9, 25 }, [2, 4], dtype: ScalarType.Float64);
        var weights = randn(2, 2, 3, 3, dtype: ScalarType.Float64);

        var loss = (RoiAlign.Forward(features, boxes, 3, 0.5, 2) * weights).sum();
        loss.backward();
        var analytic = features.grad!.clone();

        const double epsilon = 1e-6;
        using var noGrad = torch.no_grad();
        foreach (long index in new long[] { 0, 5, 17, 30, 44, 60, 83 })
        {
            var flat = features.view(-1);
            double original = flat[index].item<double>();
            flat[index] = original + epsilon;
            double plus = (RoiAlign.Forward(features, boxes, 3, 0.5, 2) * weights).sum().item<double>();
            flat[index] = original - epsilon;
            double minus = (RoiAlign.Forward(features, boxes, 3, 0.5, 2) * weights).sum().item<double>();
            flat[index] = original;
            double numeric = (plus - minus) / (2 * epsilon);
            Assert.That(analytic.view(-1)[index].item<double>(), Is.EqualTo(numeric).Within(1e-6), $"d loss / d feature[{index}]");
        }
    }

    /// <summary>torchvision's roi_align (aligned=True) written as plain loops.</summary>
    private static float[] Reference(float[] map, int channels, int height, int width, float[] boxes, int g, double scale, int ratio)
    {
        int count = boxes.Length / 4;
        var output = new float[count * channels * g * g];
        for (int r = 0; r < count; r++)
        {
            double x0 = boxes[r * 4] * scale - 0.5, y0 = boxes[r * 4 + 1] * scale - 0.5;
            double binW = (boxes[r * 4 + 2] * scale - 0.5 - x0) / g, binH = (boxes[r * 4 + 3] * scale - 0.5 - y0) / g;
            for (int c = 0; c < channels; c++)
            for (int py = 0; py < g; py++)
            for (int px = 0; px < g; px++)
            {
                double sum = 0;
                for (int iy = 0; iy < ratio; iy++)
                for (int ix = 0; ix < ratio; ix++)
                {
                    double y = y0 + py * binH + (iy + 0.5) * binH / ratio;
                    double x = x0 + px * binW + (ix + 0.5) * binW / ratio;
                    sum += Bilinear(map, c, height, width, y, x);
                }
                output[((r * channels + c) * g + py) * g + px] = (float)(sum / (ratio * ratio));
            }
        }
        return output;
    }

    private static double Bilinear(float[] map, int c, int height, int width, double y, double x)
    {
        if (y < -1.0 || y > height || x < -1.0 || x > width) return 0;
        y = Math.Max(y, 0); x = Math.Max(x, 0);
        int yLow = (int)y, xLow = (int)x, yHigh, xHigh;
        if (yLow >= height - 1) { yHigh = yLow = height - 1; y = yLow; } else yHigh = yLow + 1;
        if (xLow >= width - 1) { xHigh = xLow = width - 1; x = xLow; } else xHigh = xLow + 1;
        double ly = y - yLow, lx = x - xLow, hy = 1 - ly, hx = 1 - lx;
        float At(int yy, int xx) => map[(c * height + yy) * width + xx];
        return hy * hx * At(yLow, xLow) + hy * lx * At(yLow, xHigh) + ly * hx * At(yHigh, xLow) + ly * lx * At(yHigh, xHigh);
    }
}

public class MultiScaleRoiAlignTests
{
    [Test]
    public void BoxesGoToTheLevelOfTheirSize()
    {
        using var scope = NewDisposeScope();
        var pooler = new MultiScaleRoiAlign([4, 8, 16, 32], outputSize: 7);
        // sqrt(area) 50 -> 4 + log2(50 / 224) = 1.8 -> P2; 112 -> P3; 224 -> P4; 448 -> P5; 2000 -> clamped to P5.
        var boxes = tensor(new float[] { 0, 0, 50, 50, 0, 0, 112, 112, 0, 0, 224, 224, 0, 0, 448, 448, 0, 0, 2000, 2000 }, [5, 4]);
        Assert.That(pooler.AssignLevels(boxes).data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2, 3, 3 }));
    }

    [Test]
    public void TheCanonicalSizeMovesBoxesBetweenLevels()
    {
        using var scope = NewDisposeScope();
        var pooler = new MultiScaleRoiAlign([4, 8, 16, 32], outputSize: 7, canonicalSize: 64);
        // 4 + log2(side / 64): 16 -> P2, 32 -> P3, 64 -> P4, 128 -> P5; 8 clamped to P2, 50 -> 3.64 -> P3.
        var boxes = tensor(new float[] { 0, 0, 16, 16, 0, 0, 32, 32, 0, 0, 64, 64, 0, 0, 128, 128, 0, 0, 8, 8, 0, 0, 50, 50 }, [6, 4]);
        Assert.That(pooler.AssignLevels(boxes).data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2, 3, 0, 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiScaleRoiAlign([4, 8, 16, 32], 7, canonicalSize: 0));
    }

    [Test]
    public void PoolsEachBoxFromItsLevelInInputOrder()
    {
        TorchSharp.torch.manual_seed(9);
        using var scope = NewDisposeScope();
        var levels = new[] { randn(1, 2, 64, 64), randn(1, 2, 32, 32), randn(1, 2, 16, 16), randn(1, 2, 8, 8) };
        var boxes = tensor(new float[] { 10, 10, 230, 240, 5, 5, 40, 30, 100, 100, 210, 200 }, [3, 4]);
        var pooler = new MultiScaleRoiAlign([4, 8, 16, 32], outputSize: 7);

        var pooled = pooler.Forward(levels, boxes);

        long[] assigned = pooler.AssignLevels(boxes).data<long>().ToArray();
        int[] strides = [4, 8, 16, 32];
        for (int i = 0; i < 3; i++)
        {
            var expected = RoiAlign.Forward(levels[assigned[i]], boxes[i..(i + 1)], 7, 1.0 / strides[assigned[i]]);
            Assert.That((pooled[i..(i + 1)] - expected).abs().max().item<float>(), Is.EqualTo(0f), $"box {i}");
        }
    }

    [Test]
    public void TrainingPathPoolsAllLevelsInOneProductWithEachLevelsGradient()
    {
        // With gradients the pooler makes one sparse product over all levels; it must give what pooling
        // each box from its own level gives, values and gradients alike.
        TorchSharp.torch.manual_seed(21);
        using var scope = NewDisposeScope();
        int[] strides = [4, 8, 16, 32];
        var levels = new[] { randn(1, 3, 40, 40), randn(1, 3, 20, 20), randn(1, 3, 10, 10), randn(1, 3, 5, 5) };
        var corners = rand(30, 2) * 150 - 10;
        var sides = pow(2, rand(30, 1) * 8) + 1;  // 2 to 257 px: every level gets boxes
        var boxes = cat([corners, corners + sides], 1);  // squares
        var pooler = new MultiScaleRoiAlign(strides, outputSize: 5, canonicalSize: 64);
        long[] assigned = pooler.AssignLevels(boxes).data<long>().ToArray();
        Assert.That(assigned.Distinct().Count(), Is.EqualTo(4), "boxes on every level");
        var weights = randn(30, 3, 5, 5);

        var together = levels.Select(l => l.clone().requires_grad_(true)).ToArray();
        var pooled = pooler.Forward(together, boxes);
        (pooled * weights).sum().backward();

        var apart = levels.Select(l => l.clone().requires_grad_(true)).ToArray();
        for (int i = 0; i < 30; i++)
        {
            int level = (int)assigned[i];
            var one = RoiAlign.Forward(apart[level], boxes[i..(i + 1)], 5, 1.0 / strides[level]);
            (one * weights[i..(i + 1)]).sum().backward();
            Assert.That((pooled[i..(i + 1)].detach() - one.detach()).abs().max().item<float>(), Is.LessThan(1e-5f), $"box {i}");
        }
        using var noGrad = no_grad();
        Assert.That((pooled - pooler.Forward(levels, boxes)).abs().max().item<float>(), Is.LessThan(1e-5f), "the inference path");
        for (int l = 0; l < 4; l++)
        {
            Assert.That(together[l].grad!.abs().sum().item<float>(), Is.GreaterThan(0f), $"level {l} receives a gradient");
            Assert.That((together[l].grad! - apart[l].grad!).abs().max().item<float>(), Is.LessThan(1e-5f), $"gradient of level {l}");
        }
    }
}
