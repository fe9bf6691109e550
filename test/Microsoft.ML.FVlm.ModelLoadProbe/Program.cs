// Usage: Microsoft.ML.FVlm.ModelLoadProbe <model.zip> <row>...
//        Microsoft.ML.FVlm.ModelLoadProbe detect <model.zip> <image.png>...
//        Microsoft.ML.FVlm.ModelLoadProbe version
//
// version: prints the informational version of the Microsoft.ML assembly the probe runs on.
//
// detect: loads an image model (an F-VLM transformer) and prints, per image, the PredictedLabel key
// values, Score, PredictedBoundingBoxes and PredictedMasks columns as one JSON array.
//
// Loads the model with mlContext.Model.Load, feeds it one row per argument (comma-separated floats,
// invariant culture) in the model's single input column, which must be a fixed-size Single vector,
// and prints the transformed rows as one JSON array: [{"Column": [values...]}, ...], covering every
// Single and Single-vector column of the output. If the model does not load, the exit code is 1 and
// stderr has the exception chain, one "Type: message" line per exception.
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Microsoft.ML.FVlm.ModelLoadProbe <model.zip> <row>...");
    return 2;
}

if (args[0] == "version")
{
    Console.WriteLine(typeof(MLContext).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion.Split('+')[0]);
    return 0;
}
var mlContext = new MLContext(seed: 0);
if (args[0] == "detect")
    return DetectProbe.Run(mlContext, args[1], args.Skip(2).ToArray());
ITransformer model;
DataViewSchema inputSchema;
try
{
    model = mlContext.Model.Load(args[0], out inputSchema);
}
catch (Exception ex)
{
    // ML.NET invokes loaders by reflection: the loader's own error is the inner exception.
    for (Exception? e = ex; e is not null; e = e.InnerException)
        Console.Error.WriteLine($"{e.GetType().FullName}: {e.Message}");
    return 1;
}

if (inputSchema.Count != 1 || inputSchema[0].Type is not VectorDataViewType { ItemType: NumberDataViewType, IsKnownSize: true } inputType
    || inputType.ItemType != NumberDataViewType.Single)
{
    Console.Error.WriteLine($"The probe needs a model whose input is one fixed-size Single vector column; this one has: {string.Join(", ", inputSchema.Select(c => $"{c.Name} {c.Type}"))}.");
    return 2;
}

var rows = args.Skip(1)
    .Select(a => new ProbeRow { Values = a.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray() })
    .ToList();
var definition = SchemaDefinition.Create(typeof(ProbeRow));
definition[0].ColumnName = inputSchema[0].Name;
definition[0].ColumnType = inputType;
IDataView output = model.Transform(mlContext.Data.LoadFromEnumerable(rows, definition));

var printed = new List<Dictionary<string, float[]>>();
var columns = output.Schema.Where(c => !c.IsHidden && (c.Type == NumberDataViewType.Single
    || c.Type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single)).ToList();
using (DataViewRowCursor cursor = output.GetRowCursor(columns))
{
    var readers = columns.Select(c => ColumnReader(cursor, c)).ToList();
    while (cursor.MoveNext())
        printed.Add(columns.Zip(readers).ToDictionary(p => p.First.Name, p => p.Second()));
}

Console.WriteLine(JsonSerializer.Serialize(printed));
return 0;

static Func<float[]> ColumnReader(DataViewRowCursor cursor, DataViewSchema.Column column)
{
    if (column.Type is VectorDataViewType)
    {
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        return () => { getter(ref buffer); return buffer.DenseValues().ToArray(); };
    }

    var scalar = cursor.GetGetter<float>(column);
    float value = 0;
    return () => { scalar(ref value); return [value]; };
}

internal sealed class ProbeRow
{
    public float[] Values { get; set; } = [];
}
