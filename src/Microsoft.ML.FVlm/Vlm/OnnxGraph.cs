using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// One ONNX graph of the VLM contract: an ONNX Runtime session plus checks of its declared inputs
/// and outputs against what the manifest says, with errors that name the file and the tensor.
/// </summary>
internal sealed class OnnxGraph : IDisposable
{
    private OnnxGraph(string path, InferenceSession session, bool onGpu)
    {
        FilePath = path;
        Session = session;
        RunsOnGpu = onGpu;
    }

    public string FilePath { get; }

    public InferenceSession Session { get; }

    public bool RunsOnGpu { get; }

    public static OnnxGraph Open(string path, VlmSessionOptions options)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"VLM graph '{path}' does not exist.", path);
        try
        {
            return OpenSession(path, options);
        }
        catch (Exception e) when (MissingNativeLibrary(e) is { } missing)
        {
            throw new InvalidOperationException(
                $"ONNX Runtime's native library could not be loaded to open '{path}' ({missing.Message}). Microsoft.ML.FVlm " +
                "references only ONNX Runtime's managed API: the application must reference a native build, " +
                "Microsoft.ML.OnnxRuntime (CPU) or Microsoft.ML.OnnxRuntime.Gpu (CUDA), version 1.32.0.", e);
        }
    }

    /// <summary>The <see cref="DllNotFoundException"/> behind <paramref name="error"/> (ONNX Runtime wraps it in a type initializer's error), if any.</summary>
    internal static DllNotFoundException? MissingNativeLibrary(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
            if (e is DllNotFoundException missing) return missing;
        return null;
    }

    private static OnnxGraph OpenSession(string path, VlmSessionOptions options)
    {
        var (session, onGpu) = CreateSession($"'{path}'", sessionOptions => Load(path, sessionOptions), options);
        return new OnnxGraph(path, session, onGpu);
    }

    /// <summary>
    /// A session made by <paramref name="create"/> on the device <paramref name="options"/> ask for: CUDA when a GPU id
    /// is set (or the CPU, with a warning, when CUDA cannot start and <see cref="VlmSessionOptions.FallbackToCpu"/>),
    /// the CPU otherwise.
    /// </summary>
    /// <param name="description">What the session runs, for messages (a quoted path, or a name).</param>
    /// <param name="create">Makes the session with the given options.</param>
    /// <param name="options">The device and threads.</param>
    internal static (InferenceSession Session, bool OnGpu) CreateSession(string description, Func<SessionOptions, InferenceSession> create, VlmSessionOptions options)
    {
        if (options.GpuDeviceId is int device)
        {
            try
            {
                using var gpuOptions = SessionOptions.MakeSessionOptionWithCudaProvider(device);
                Configure(gpuOptions, options);
                return (create(gpuOptions), true);
            }
            // The CPU build (Microsoft.ML.OnnxRuntime) does not export the CUDA provider's entry point at all.
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException && options.FallbackToCpu)
            {
                System.Diagnostics.Trace.TraceWarning($"CUDA device {device} unavailable for {description} ({e.Message}); running on the CPU.");
            }
            catch (EntryPointNotFoundException e)
            {
                throw new InvalidOperationException(
                    $"Could not run {description} on CUDA device {device}: the application's ONNX Runtime is a build without CUDA. " +
                    "Reference Microsoft.ML.OnnxRuntime.Gpu 1.32.0 instead of Microsoft.ML.OnnxRuntime, or set FallbackToCpu to run on the CPU.", e);
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException(
                    $"Could not run {description} on CUDA device {device}: {e.Message} Install the CUDA 13 runtime, or set FallbackToCpu to run on the CPU.", e);
            }
        }
        using var cpuOptions = new SessionOptions();
        Configure(cpuOptions, options);
        return (create(cpuOptions), false);
    }

    private static void Configure(SessionOptions sessionOptions, VlmSessionOptions options)
    {
        sessionOptions.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        if (options.IntraOpThreads is int intra) sessionOptions.IntraOpNumThreads = intra;
        if (options.InterOpThreads is int inter) sessionOptions.InterOpNumThreads = inter;
    }

    private static InferenceSession Load(string path, SessionOptions sessionOptions)
    {
        try
        {
            return new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException e) when (!e.Message.Contains("CUDA", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"VLM graph '{path}' is not a valid ONNX model: {e.Message}", e);
        }
    }

    /// <summary>Checks an input; a <see langword="null"/> dimension may be anything, a fixed one must match (or be dynamic in the graph).</summary>
    public void ExpectInput(string name, TensorElementType type, params long?[] dimensions) =>
        Expect("input", Session.InputMetadata, name, type, dimensions);

    /// <summary>Checks an output, as <see cref="ExpectInput"/>.</summary>
    public void ExpectOutput(string name, TensorElementType type, params long?[] dimensions) =>
        Expect("output", Session.OutputMetadata, name, type, dimensions);

    private void Expect(string role, IReadOnlyDictionary<string, NodeMetadata> declared, string name, TensorElementType type, long?[] dimensions)
    {
        if (!declared.TryGetValue(name, out var metadata))
            throw new InvalidDataException(
                $"VLM graph '{FilePath}' has no {role} tensor '{name}'; its {role}s are: {string.Join(", ", declared.Keys)}.");
        if (!metadata.IsTensor || metadata.ElementDataType != type)
            throw new InvalidDataException(
                $"VLM graph '{FilePath}', {role} '{name}': expected a {type} tensor, found {(metadata.IsTensor ? metadata.ElementDataType.ToString() : metadata.OnnxValueType.ToString())}.");
        int[] actual = metadata.Dimensions;
        bool matches = actual.Length == dimensions.Length;
        for (int i = 0; matches && i < actual.Length; i++)
            matches = dimensions[i] is not long expected || actual[i] < 0 || actual[i] == expected;
        if (!matches)
            throw new InvalidDataException(
                $"VLM graph '{FilePath}', {role} '{name}': expected shape {Describe(dimensions)}, found {Describe(actual.Select(d => d < 0 ? null : (long?)d).ToArray())}.");
    }

    private static string Describe(long?[] dimensions) =>
        "[" + string.Join(", ", dimensions.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?")) + "]";

    public void Dispose() => Session.Dispose();
}
