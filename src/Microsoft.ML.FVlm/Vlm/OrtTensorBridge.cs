using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// Lets ONNX Runtime read from and write into TorchSharp tensors' memory, so feature maps pass
/// between the two without copies: the caller allocates the torch tensor, and the OrtValue made
/// here is only a view of it (it must not outlive the tensor).
/// </summary>
internal static class OrtTensorBridge
{
    public static unsafe OrtValue View(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"Tensor on {tensor.device} cannot be shared with ONNX Runtime's CPU memory; move it to the CPU first.", nameof(tensor));
        if (!tensor.is_contiguous())
            throw new ArgumentException("Tensor must be contiguous to be shared with ONNX Runtime.", nameof(tensor));
        var type = tensor.dtype switch
        {
            ScalarType.Float32 => TensorElementType.Float,
            ScalarType.Int64 => TensorElementType.Int64,
            _ => throw new ArgumentException($"Tensor of {tensor.dtype} is not used by the VLM contract (float32 and int64 are).", nameof(tensor)),
        };
        Span<byte> bytes = tensor.bytes;
        var pointer = (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, tensor.shape, pointer, bytes.Length);
    }
}
