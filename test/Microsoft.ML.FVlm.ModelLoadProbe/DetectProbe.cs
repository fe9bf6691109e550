using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>The probe's <c>detect</c> mode: an image model loaded from a zip, run on image files.</summary>
internal static class DetectProbe
{
    public static int Run(MLContext mlContext, string zip, string[] images)
    {
        ITransformer model;
        try
        {
            model = mlContext.Model.Load(zip, out _);
        }
        catch (Exception ex)
        {
            for (Exception? e = ex; e is not null; e = e.InnerException)
                Console.Error.WriteLine($"{e.GetType().FullName}: {e.Message}");
            return 1;
        }
        var input = mlContext.Data.LoadFromEnumerable(images.Select(p => new ImageRow { ImagePath = p }));
        var loaded = mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath)).Fit(input).Transform(input);
        var output = model.Transform(loaded);
        var labelColumn = output.Schema["PredictedLabel"];
        VBuffer<ReadOnlyMemory<char>> names = default;
        labelColumn.GetKeyValues(ref names);
        var vocabulary = names.DenseValues().Select(n => n.ToString()).ToArray();

        var rows = new List<object>();
        using var cursor = output.GetRowCursor(output.Schema.Where(c => c.Name is "PredictedLabel" or "Score" or "PredictedBoundingBoxes" or "PredictedMasks"));
        var labels = cursor.GetGetter<VBuffer<uint>>(labelColumn);
        var scores = cursor.GetGetter<VBuffer<float>>(output.Schema["Score"]);
        var boxes = cursor.GetGetter<VBuffer<float>>(output.Schema["PredictedBoundingBoxes"]);
        var masks = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(output.Schema["PredictedMasks"]);
        VBuffer<uint> l = default;
        VBuffer<float> s = default, b = default;
        VBuffer<ReadOnlyMemory<char>> m = default;
        while (cursor.MoveNext())
        {
            labels(ref l); scores(ref s); boxes(ref b); masks(ref m);
            rows.Add(new
            {
                labels = l.DenseValues().Select(k => vocabulary[k - 1]).ToArray(),
                scores = s.DenseValues().ToArray(),
                boxes = b.DenseValues().ToArray(),
                masks = m.DenseValues().Select(v => v.ToString()).ToArray(),
            });
        }
        Console.WriteLine(JsonSerializer.Serialize(rows));
        return 0;
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }
}
