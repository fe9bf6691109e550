namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// How the frozen VLM's ONNX graphs run, in the convention of ML.NET's <c>ApplyOnnxModel</c>:
/// CPU unless <see cref="GpuDeviceId"/> is set; with a GPU id, CUDA is required unless
/// <see cref="FallbackToCpu"/> is true.
/// </summary>
internal sealed class VlmSessionOptions
{
    /// <summary>CUDA device to run on; <see langword="null"/> (the default) runs on the CPU.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>When CUDA was asked for but cannot start (no CUDA 13 runtime or no device), run on the CPU instead of failing.</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>Threads used inside one operator; <see langword="null"/> lets ONNX Runtime choose (one per core).</summary>
    public int? IntraOpThreads { get; set; }

    /// <summary>Threads used across independent operators; <see langword="null"/> lets ONNX Runtime choose.</summary>
    public int? InterOpThreads { get; set; }
}
