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

        var rows = DetectionRow.ReadAll(output).Select(r => new
        {
            labels = r.Labels.Select(k => vocabulary[k - 1]).ToArray(),
            scores = r.Scores,
            boxes = r.Boxes,
            masks = r.Masks,
        });
        Console.WriteLine(JsonSerializer.Serialize(rows));
        return 0;
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }
}
