using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.TestTransformers;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(ScaleTransformer), null, typeof(SignatureLoadModel),
    "FVlm Scale Transformer", ScaleTransformer.LoaderSignature)]

namespace Microsoft.ML.FVlm.TestTransformers;

/// <summary>
/// The smallest complete example of a transformer that round-trips through
/// <c>mlContext.Model.Save</c> / <c>Load</c> without deriving from ML.NET's internal base classes:
/// output[i] = input[i] * Scales[i] + Offset over a fixed-size <see cref="float"/> vector.
/// The tests save it in one process and load it in another (the model-load probes reference this assembly); the FVlm transformer follows the same
/// pattern (<see cref="ITransformer"/> implemented directly, <c>GetVersionInfo</c>, <c>Save</c>,
/// a static <c>Create(IHostEnvironment, ModelLoadContext)</c>, an assembly-level <c>LoadableClass</c>).
/// </summary>
public sealed class ScaleTransformer : ITransformer
{
    /// <summary>The name ML.NET records in the zip to find <see cref="Create"/> again.</summary>
    public const string LoaderSignature = "FVlmScaleTransformer";

    /// <summary>The zip entry holding the column names, <see cref="Scales"/> and <see cref="Offset"/>.</summary>
    public const string ParametersEntry = "ScaleParameters.bin";

    // Version history of the Model.key stream (ML.NET's VersionInfo):
    //   0x00010001: header only; everything in ScaleParameters.bin.
    private static VersionInfo GetVersionInfo() => ModelComponentVersion.Create(
        modelSignature: "FVLMSCAL",
        written: 0x00010001,
        oldestReaderThatCanRead: 0x00010001,
        oldestReadable: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssembly: typeof(ScaleTransformer).Assembly);

    // Version history of the ScaleParameters.bin payload (ModelZipEntries):
    //   1: column names, scales, offset (layout at Save).
    private const uint ParametersVersion = 1;

    private readonly IHost _host;

    /// <summary>Creates the transformer.</summary>
    /// <param name="env">The ML.NET environment (an <c>MLContext</c>).</param>
    /// <param name="inputColumnName">A column of fixed-size <see cref="float"/> vectors of length <c>scales.Length</c>.</param>
    /// <param name="outputColumnName">The output column, same type as the input.</param>
    /// <param name="scales">One factor per slot.</param>
    /// <param name="offset">Added to every slot after scaling.</param>
    public ScaleTransformer(IHostEnvironment env, string inputColumnName, string outputColumnName, float[] scales, float offset)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        ArgumentNullException.ThrowIfNull(scales);
        if (scales.Length == 0)
            throw new ArgumentException("At least one scale is needed.", nameof(scales));
        _host = MlNetCompatibility.Run("register the scale transformer", () => env.Register(nameof(ScaleTransformer)));
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        Scales = (float[])scales.Clone();
        Offset = offset;
    }

    public string InputColumnName { get; }

    public string OutputColumnName { get; }

    public IReadOnlyList<float> Scales { get; }

    public float Offset { get; }

    private VectorDataViewType ColumnType => new(NumberDataViewType.Single, Scales.Count);

    public bool IsRowToRowMapper => false;

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
        => throw new NotSupportedException($"{nameof(ScaleTransformer)} is only used through Transform.");

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(OutputColumnName, ColumnType);
        return builder.ToSchema();
    }

    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        float[] scales = [.. Scales];
        float offset = Offset;
        ValueMapper<VBuffer<float>, VBuffer<float>> map = (in VBuffer<float> src, ref VBuffer<float> dst) =>
        {
            var editor = VBufferEditor.Create(ref dst, scales.Length);
            src.CopyTo(editor.Values);
            for (int i = 0; i < scales.Length; i++)
                editor.Values[i] = editor.Values[i] * scales[i] + offset;
            dst = editor.Commit();
        };
        return MlNetCompatibility.Run("map a column", () => LambdaColumnMapper.Create(_host, LoaderSignature, input, InputColumnName, OutputColumnName, ColumnType, ColumnType, map));
    }

    // Model.key holds only ML.NET's header (GetVersionInfo): ML.NET does not checksum it, so every
    // field goes into the framed entry, where a flipped byte is caught by the entry's SHA-256.
    // ScaleParameters.bin payload, version 1:
    //   string  input column name (BinaryWriter: 7-bit length prefix, UTF-8)
    //   string  output column name
    //   int32   count
    //   float32 scales[count]
    //   float32 offset
    public void Save(ModelSaveContext ctx) => MlNetCompatibility.Run("save the scale transformer", () => SaveEntries(ctx));

    private void SaveEntries(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ModelZipEntries.Write(ctx, ParametersEntry, ParametersVersion, writer =>
        {
            writer.Write(InputColumnName);
            writer.Write(OutputColumnName);
            writer.Write(Scales.Count);
            foreach (float scale in Scales)
                writer.Write(scale);
            writer.Write(Offset);
        });
    }

    /// <summary>The loader ML.NET calls through the <c>LoadableClass</c> registration; layout as in <see cref="Save"/>.</summary>
    /// <remarks>
    /// ML.NET calls this by reflection, so <c>mlContext.Model.Load</c> surfaces an exception thrown
    /// here as the <see cref="Exception.InnerException"/> of a <see cref="System.Reflection.TargetInvocationException"/>.
    /// </remarks>
    private static ScaleTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(ctx);
        return MlNetCompatibility.Run("load the scale transformer", () => Load(env, ctx));
    }

    private static ScaleTransformer Load(IHostEnvironment env, ModelLoadContext ctx)
    {
        ModelComponentVersion.CheckAtModel(ctx, GetVersionInfo(), "scale transformer");
        return ModelZipEntries.Read(ctx, ParametersEntry, ParametersVersion, (reader, version) =>
        {
            string input = reader.ReadString();
            string output = reader.ReadString();
            int count = reader.ReadInt32();
            if (count <= 0 || count > 1 << 20)
                throw new InvalidDataException($"'{ParametersEntry}' declares {count} scales; expected between 1 and {1 << 20}.");
            var scales = new float[count];
            for (int i = 0; i < count; i++)
                scales[i] = reader.ReadSingle();
            return new ScaleTransformer(env, input, output, scales, reader.ReadSingle());
        });
    }

    private void CheckInput(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        DataViewSchema.Column? column = schema.GetColumnOrNull(InputColumnName);
        if (column is null)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{InputColumnName}' was not found.");
        if (!column.Value.Type.Equals(ColumnType))
            throw new ArgumentOutOfRangeException(nameof(schema), $"Input column '{InputColumnName}' must be {ColumnType}, but is {column.Value.Type}.");
    }
}
