using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Infrastructure;

/// <summary>
/// Proves that TorchSharp's native library loads from a plain build on this machine (see
/// eng/TorchSharpNativeFix.targets) and that autograd + an optimiser actually learn.
/// </summary>
public class TorchSharpTrainingTests
{
    [Test]
    public void SmallConvNetLossFalls()
    {
        torch.manual_seed(7);
        using var scope = torch.NewDisposeScope();

        // Task: tell images with a bright square in the left half from ones with it in the right half.
        const int count = 64, side = 16;
        var images = torch.randn(count, 1, side, side) * 0.3f;
        var labels = torch.zeros(count, dtype: ScalarType.Int64);
        for (int i = 0; i < count; i++)
        {
            bool right = i % 2 == 1;
            int x = right ? 10 : 2, y = 4 + i % 6;
            images[i, 0, TensorIndex.Slice(y, y + 4), TensorIndex.Slice(x, x + 4)] += 2.0f;
            labels[i] = right ? 1 : 0;
        }

        var model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding: 1), nn.ReLU(), nn.AdaptiveAvgPool2d(new long[] { 1, 2 }),
            nn.Flatten(), nn.Linear(16, 2));
        var optimizer = optim.SGD(model.parameters(), 0.1, momentum: 0.9);
        var lossFunction = nn.CrossEntropyLoss();

        float firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = lossFunction.forward(model.forward(images), labels);
            loss.backward();
            optimizer.step();
            float value = loss.item<float>();
            if (step == 0) firstLoss = value;
            lastLoss = value;
        }

        Assert.That(firstLoss, Is.GreaterThan(0.5f), "an untrained two-class net starts near ln 2");
        Assert.That(lastLoss, Is.LessThan(firstLoss * 0.2f), $"loss should fall: first {firstLoss}, last {lastLoss}");
    }
}
