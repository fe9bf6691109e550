using Google.Protobuf;
using Microsoft.ML.FVlm.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>Runs an exported model with ONNX Runtime on TorchSharp tensors and compares its outputs with TorchSharp's.</summary>
internal sealed class OnnxRunner(ModelProto model) : IDisposable
{
    private readonly InferenceSession _session = new(model.ToByteArray());

    /// <summary>The named outputs for the named float32 inputs: shape and values of each.</summary>
    public (long[] Shape, float[] Values)[] Run(IReadOnlyList<(string Name, Tensor Value)> inputs, IReadOnlyList<string> outputs)
    {
        var values = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Value.detach().cpu().contiguous().data<float>().ToArray(), i.Value.shape)).ToArray();
        try
        {
            using var results = _session.Run(new RunOptions(), inputs.Select(i => i.Name).ToArray(), values, outputs.ToArray());
            return results.Select(o => (o.GetTensorTypeAndShape().Shape, o.GetTensorDataAsSpan<float>().ToArray())).ToArray();
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    /// <summary>Asserts the graph's output equals TorchSharp's within <paramref name="tolerance"/>, element by element.</summary>
    public static void AssertClose((long[] Shape, float[] Values) actual, Tensor expected, double tolerance, string what)
    {
        Assert.That(actual.Shape, Is.EqualTo(expected.shape), what);
        Assert.That(actual.Values, Is.EqualTo(expected.detach().cpu().contiguous().data<float>().ToArray()).Within(tolerance), what);
    }

    /// <summary>
    /// Every batch norm's running statistics and affine parameters moved away from (0, 1), so that an unfolded or
    /// wrongly folded batch norm shows in the outputs. A batch norm is found by its <c>running_mean</c> entry.
    /// </summary>
    public static void MoveBatchNormsAwayFromIdentity(nn.Module module)
    {
        using var noGrad = no_grad();
        var state = module.state_dict();
        foreach (string key in state.Keys.Where(k => k.EndsWith(".running_mean")).ToArray())
        {
            string prefix = key[..^"running_mean".Length];
            state[prefix + "running_mean"].copy_(randn_like(state[prefix + "running_mean"]) * 0.5);
            state[prefix + "running_var"].copy_(rand_like(state[prefix + "running_var"]) + 0.5);
            state[prefix + "weight"].copy_(randn_like(state[prefix + "weight"]) * 0.5 + 1);
            state[prefix + "bias"].copy_(randn_like(state[prefix + "bias"]) * 0.5);
        }
    }

    public void Dispose() => _session.Dispose();
}
