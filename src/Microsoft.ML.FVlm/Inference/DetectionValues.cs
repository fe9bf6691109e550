using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>
/// One row's detections as the values of the output columns (<see cref="DetectionOutputKind"/>).
/// Masks are compressed to COCO RLE strings once, on first demand.
/// </summary>
internal sealed class DetectionValues
{
    private ReadOnlyMemory<char>[]? _maskStrings;

    public DetectionValues(ImageDetections detections) => Detections = detections;

    public ImageDetections Detections { get; }

    /// <summary>One compressed RLE per detection; empty when masks were not predicted.</summary>
    public ReadOnlyMemory<char>[] MaskStrings => _maskStrings ??= Detections.Masks is { } masks
        ? masks.Select(m => CocoMask.ToCompressedString(m).AsMemory()).ToArray()
        : [];

    /// <summary>
    /// A getter of column <paramref name="kind"/> that reads the row <paramref name="current"/>
    /// returns at call time. Values are copied into the caller's buffers.
    /// </summary>
    public static Delegate MakeGetter(DetectionOutputKind kind, Func<DetectionValues> current) => kind switch
    {
        DetectionOutputKind.PredictedLabel => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> value) => WriteKeys(current().Detections.Classes, ref value)),
        DetectionOutputKind.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => Write(current().Detections.Scores, ref value)),
        DetectionOutputKind.BoundingBoxes => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => Write(current().Detections.Boxes, ref value)),
        DetectionOutputKind.Masks => (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> value) => Write(current().MaskStrings, ref value)),
        DetectionOutputKind.DetectionScore => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => Write(current().Detections.DetectionScores, ref value)),
        DetectionOutputKind.VlmScore => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => Write(current().Detections.VlmScores, ref value)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown detection output."),
    };

    private static void Write<T>(T[] source, ref VBuffer<T> value)
    {
        var editor = VBufferEditor.Create(ref value, source.Length);
        source.CopyTo(editor.Values);
        value = editor.Commit();
    }

    // Keys are 1-based: 0 is ML.NET's missing key.
    private static void WriteKeys(int[] classes, ref VBuffer<uint> value)
    {
        var editor = VBufferEditor.Create(ref value, classes.Length);
        for (int i = 0; i < classes.Length; i++)
            editor.Values[i] = (uint)(classes[i] + 1);
        value = editor.Commit();
    }
}
