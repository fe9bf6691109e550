using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// The detection columns of a scored view, row by row. Compiled into the probe and (linked) into
/// the tests, so the in-process and the other-process readings are the same code.
/// </summary>
internal sealed record DetectionRow(uint[] Labels, float[] Scores, float[] Boxes, string[] Masks)
{
    public static List<DetectionRow> ReadAll(IDataView output)
    {
        var rows = new List<DetectionRow>();
        using var cursor = output.GetRowCursor(output.Schema.Where(c => c.Name is "PredictedLabel" or "Score" or "PredictedBoundingBoxes" or "PredictedMasks"));
        var labels = cursor.GetGetter<VBuffer<uint>>(output.Schema["PredictedLabel"]);
        var scores = cursor.GetGetter<VBuffer<float>>(output.Schema["Score"]);
        var boxes = cursor.GetGetter<VBuffer<float>>(output.Schema["PredictedBoundingBoxes"]);
        var masks = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(output.Schema["PredictedMasks"]);
        VBuffer<uint> l = default;
        VBuffer<float> s = default, b = default;
        VBuffer<ReadOnlyMemory<char>> m = default;
        while (cursor.MoveNext())
        {
            labels(ref l); scores(ref s); boxes(ref b); masks(ref m);
            rows.Add(new DetectionRow(l.DenseValues().ToArray(), s.DenseValues().ToArray(), b.DenseValues().ToArray(), m.DenseValues().Select(v => v.ToString()).ToArray()));
        }
        return rows;
    }
}
