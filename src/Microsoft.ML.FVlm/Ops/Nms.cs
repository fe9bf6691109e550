namespace Microsoft.ML.FVlm.Ops;

/// <summary>
/// Greedy non-maximum suppression on arrays (TorchVision for .NET's nms is a managed loop over
/// tensors, about 25 times slower). A box is dropped when its IoU with a kept, higher-scoring box
/// is above the threshold (strictly), as torchvision. Ties in score keep the earlier box first.
/// </summary>
public static class Nms
{
    /// <summary>Indices of kept boxes, by decreasing score.</summary>
    /// <param name="boxes">[N * 4] x0 y0 x1 y1.</param>
    /// <param name="scores">[N].</param>
    /// <param name="iouThreshold">Suppress above this IoU.</param>
    /// <param name="maxKept">Stop after this many (all when negative).</param>
    public static int[] Run(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, double iouThreshold, int maxKept = -1)
    {
        return Batched(boxes, scores, classes: default, iouThreshold, maxKept);
    }

    /// <summary>
    /// Suppression within each class only (boxes of different classes never suppress each other).
    /// </summary>
    /// <param name="boxes">[N * 4] x0 y0 x1 y1.</param>
    /// <param name="scores">[N].</param>
    /// <param name="classes">[N] class of each box; empty for a single class.</param>
    /// <param name="iouThreshold">Suppress above this IoU.</param>
    /// <param name="maxKept">Stop after this many (all when negative).</param>
    public static int[] Batched(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<int> classes, double iouThreshold, int maxKept = -1)
    {
        int count = scores.Length;
        if (boxes.Length != count * 4) throw new ArgumentException($"boxes must hold 4 numbers per score ({count * 4}); it has {boxes.Length}.", nameof(boxes));
        if (!classes.IsEmpty && classes.Length != count) throw new ArgumentException($"classes must hold one class per score ({count}); it has {classes.Length}.", nameof(classes));
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        var keys = scores.ToArray();
        // Stable sort by descending score: negate keys, sort ascending with the index as tie-breaker.
        Array.Sort(order, (a, b) => keys[b].CompareTo(keys[a]) is var c && c != 0 ? c : a.CompareTo(b));

        var areas = new float[count];
        for (int i = 0; i < count; i++)
            areas[i] = Math.Max(0, boxes[i * 4 + 2] - boxes[i * 4]) * Math.Max(0, boxes[i * 4 + 3] - boxes[i * 4 + 1]);
        var suppressed = new bool[count];
        var kept = new List<int>();
        for (int oi = 0; oi < count; oi++)
        {
            int i = order[oi];
            if (suppressed[i]) continue;
            kept.Add(i);
            if (kept.Count == maxKept) break;
            float x0 = boxes[i * 4], y0 = boxes[i * 4 + 1], x1 = boxes[i * 4 + 2], y1 = boxes[i * 4 + 3];
            for (int oj = oi + 1; oj < count; oj++)
            {
                int j = order[oj];
                if (suppressed[j] || (!classes.IsEmpty && classes[j] != classes[i])) continue;
                float w = Math.Min(x1, boxes[j * 4 + 2]) - Math.Max(x0, boxes[j * 4]);
                if (w <= 0) continue;
                float h = Math.Min(y1, boxes[j * 4 + 3]) - Math.Max(y0, boxes[j * 4 + 1]);
                if (h <= 0) continue;
                float intersection = w * h;
                float union = areas[i] + areas[j] - intersection;
                if (union > 0 && intersection / union > iouThreshold) suppressed[j] = true;
            }
        }
        return kept.ToArray();
    }
}
