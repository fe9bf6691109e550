using System.Reflection;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>Loads an F-VLM model zip, turning ML.NET's reflection wrapper into the loader's own message.</summary>
internal static class ModelFile
{
    public static FVlmTransformer Load(MLContext mlContext, FileInfo zip) => Load(mlContext, zip, out _);

    /// <summary>Loads as <see cref="Load(MLContext, FileInfo)"/>, with the input schema the zip was saved with.</summary>
    public static FVlmTransformer Load(MLContext mlContext, FileInfo zip, out DataViewSchema inputSchema)
    {
        if (!zip.Exists) throw new FileNotFoundException($"--model: '{zip.FullName}' does not exist.", zip.FullName);
        // A temporary folder ML.NET cannot write to would otherwise read as a bad model zip.
        WritablePath.EnsureTemporaryFolder(mlContext.TempFilePath, "ML.NET unpacks model zips there");
        ITransformer loaded;
        try
        {
            loaded = mlContext.Model.Load(zip.FullName, out inputSchema);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            throw new InvalidDataException($"--model: '{zip.FullName}' could not be loaded: {inner.Message}", inner);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"--model: '{zip.FullName}' is not a readable ML.NET model zip: {e.Message}", e);
        }
        return loaded as FVlmTransformer
            ?? throw new InvalidDataException($"--model: '{zip.FullName}' holds a {loaded.GetType().Name}, not an F-VLM detector.");
    }
}
