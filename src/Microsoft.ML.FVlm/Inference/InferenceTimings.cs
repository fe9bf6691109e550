using System.Diagnostics;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// Wall-clock time of each stage of inference (<see cref="FVlmTransformer.Detect(IReadOnlyList{Microsoft.ML.Data.MLImage}, InferenceTimings)"/>),
/// summed over calls (safe to share between threads): where inference time goes.
/// </summary>
public sealed class InferenceTimings
{
    private readonly long[] _ticks = new long[Enum.GetValues<InferenceStage>().Length];
    private long _images;

    /// <summary>Time spent in <paramref name="stage"/> so far.</summary>
    public TimeSpan this[InferenceStage stage] => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks[(int)stage]));

    /// <summary>Time over all stages.</summary>
    public TimeSpan Total => Stopwatch.GetElapsedTime(0, Enum.GetValues<InferenceStage>().Sum(s => Interlocked.Read(ref _ticks[(int)s])));

    /// <summary>Images detected so far.</summary>
    public long Images => Interlocked.Read(ref _images);

    internal void Add(InferenceStage stage, long startTimestamp) => AddTicks(stage, Stopwatch.GetTimestamp() - startTimestamp);

    /// <summary>Adds <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks) to <paramref name="stage"/>.</summary>
    internal void AddTicks(InferenceStage stage, long ticks) => Interlocked.Add(ref _ticks[(int)stage], ticks);

    internal void AddImages(int count) => Interlocked.Add(ref _images, count);
}

/// <summary>Stages of open-vocabulary inference.</summary>
public enum InferenceStage
{
    /// <summary>Resizing, normalising and padding the images onto the canvas.</summary>
    Preprocessing,

    /// <summary>The frozen VLM's image encoder (ONNX Runtime).</summary>
    ImageTower,

    /// <summary>The trained head: text embeddings of the vocabulary (cached), FPN, RPN and proposals, box head, region-text classification, box refinement.</summary>
    Head,

    /// <summary>The frozen VLM's scores of the refined boxes: RoIAlign on its region level, its region pooler (ONNX Runtime), similarity with the text.</summary>
    VlmRegionScoring,

    /// <summary>Score fusion, thresholds, per-class NMS and top-k.</summary>
    PostProcessing,

    /// <summary>The mask head on the kept boxes and pasting the masks at the image size (on the graph path, pasting only).</summary>
    Masks,

    /// <summary>The detector's ONNX graph, on the transformer's path: the stages above from the image's bytes to the kept detections' mask probabilities, in one ONNX Runtime run.</summary>
    Graph,
}
