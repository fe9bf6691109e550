using Microsoft.ML.Runtime;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// The ML.NET host environment behind a catalog, and a log on it. ML.NET keeps both internal
/// (<c>IInternalCatalog.Environment</c>, <c>IChannel</c>); this is the one place that uses them.
/// </summary>
internal static class MLNetEnvironment
{
    /// <summary>The environment (the <c>MLContext</c>) a transforms catalog belongs to.</summary>
    public static IHostEnvironment Of(TransformsCatalog catalog) => MlNetCompatibility.Run("find the MLContext of a catalog", () => EnvironmentOf(catalog));

    private static IHostEnvironment EnvironmentOf(TransformsCatalog catalog) => ((Microsoft.ML.Data.IInternalCatalog)catalog).Environment;

    /// <summary>Where a loaded model runs: the head's TorchSharp device and the VLM's ONNX Runtime device.</summary>
    /// <param name="Head"><c>cpu</c> or <c>cuda:N</c>.</param>
    /// <param name="GpuDeviceId">The CUDA device of the VLM's graphs; null for the CPU.</param>
    /// <param name="FallbackToCpu">Whether the VLM's graphs run on the CPU when CUDA cannot start.</param>
    internal sealed record LoadingDevice(string Head, int? GpuDeviceId, bool FallbackToCpu);

    /// <summary>
    /// The GPU settings of <paramref name="env"/> (<c>MLContext.GpuDeviceId</c> and <c>FallbackToCpu</c>) without asking
    /// TorchSharp for CUDA: the graphs' sessions take them as they are, and the head's device is chosen only when the
    /// head's TorchSharp modules are made (<see cref="HeadDevice"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The device id is negative.</exception>
    public static (int? GpuDeviceId, bool FallbackToCpu) GpuSettings(IHostEnvironment env)
    {
        var settings = MlNetCompatibility.Run("read the MLContext's GPU settings", () => env is IHostEnvironmentInternal context
            ? (context.GpuDeviceId, context.FallbackToCpu) : ((int?)null, false));
        if (settings.Item1 is < 0)
            throw new ArgumentOutOfRangeException(nameof(MLContext.GpuDeviceId), settings.Item1, $"MLContext.GpuDeviceId must be a CUDA device number (0 or more) or null for the CPU; got {settings.Item1}.");
        return settings;
    }

    /// <summary>The head's TorchSharp device for these GPU settings (<see cref="Device(int?, bool, bool)"/>), asking TorchSharp for CUDA only when a GPU is asked for.</summary>
    public static string HeadDevice(int? gpuDeviceId, bool fallbackToCpu) =>
        Device(gpuDeviceId, fallbackToCpu, gpuDeviceId is not null && TorchSharp.torch.cuda.is_available()).Head;

    /// <summary>
    /// The device of a model loaded with these GPU settings, as ML.NET's own ONNX and TorchSharp transformers take them: the CPU
    /// unless a GPU is asked for; the head on <c>cuda:N</c> when TorchSharp sees CUDA, else on the CPU if falling back is
    /// allowed, else an error.
    /// </summary>
    internal static LoadingDevice Device(int? gpuDeviceId, bool fallbackToCpu, bool cudaAvailable)
    {
        if (gpuDeviceId is not { } id) return new LoadingDevice("cpu", null, fallbackToCpu);
        if (id < 0) throw new ArgumentOutOfRangeException(nameof(MLContext.GpuDeviceId), id, $"MLContext.GpuDeviceId must be a CUDA device number (0 or more) or null for the CPU; got {id}.");
        if (cudaAvailable) return new LoadingDevice($"cuda:{id}", id, fallbackToCpu);
        if (fallbackToCpu) return new LoadingDevice("cpu", id, fallbackToCpu);
        throw new InvalidOperationException($"MLContext.GpuDeviceId is {id}, but TorchSharp finds no CUDA device for the detector head " +
            "(the application references libtorch-cpu, or no GPU is present). Reference a CUDA build of libtorch, set MLContext.FallbackToCpu = true " +
            "to run on the CPU, or leave MLContext.GpuDeviceId null.");
    }

    /// <summary>A log named <paramref name="name"/> in <paramref name="env"/> (ML.NET's <c>Log</c> event).</summary>
    public static ComponentLog Log(IHostEnvironment env, string name) => MlNetCompatibility.Run("open a log channel", () => Open(env, name));

    private static ComponentLog Open(IHostEnvironment env, string name) => new(env.Register(name).Start(name));

    /// <summary>Writes informational messages to ML.NET's log; disposing ends the channel.</summary>
    internal sealed class ComponentLog(IChannel channel) : IDisposable
    {
        public void Info(string message) => MlNetCompatibility.Run("write to ML.NET's log", () => channel.Info(message));

        public void Dispose() => channel.Dispose();
    }
}
