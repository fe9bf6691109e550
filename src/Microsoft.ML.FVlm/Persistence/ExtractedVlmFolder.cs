using System.Collections.Concurrent;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// The frozen VLM's files of one loaded model zip, written for ONNX Runtime and the tokenizer (which
/// read files) into a folder of their own: a new folder for every load, with a random name and
/// readable by the current user only (<see cref="Directory.CreateTempSubdirectory"/>, which is
/// <c>mkdtemp</c> on Unix), so that no other user can plant or change the graphs a load runs and no
/// earlier extraction, damaged or not, is ever reused. Deleted when the model that uses it is freed,
/// or when the process exits normally (a killed process, one ended by SIGTERM included, leaves it behind).
/// </summary>
internal sealed class ExtractedVlmFolder : IDisposable
{
    private const string Prefix = "fvlm-vlm-";

    // Folders not deleted yet: the process's exit deletes them (transformers that were never disposed).
    private static readonly ConcurrentDictionary<string, bool> Live = new();

    static ExtractedVlmFolder() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (string folder in Live.Keys) TryDelete(folder);
    };

    private ExtractedVlmFolder(string path) => FolderPath = path;

    /// <summary>The folder's full path.</summary>
    public string FolderPath { get; }

    /// <summary>Writes <paramref name="files"/> (plain file names, checked by the caller) into a new private folder.</summary>
    /// <exception cref="IOException">The temporary folder is not writable; the message names it.</exception>
    public static ExtractedVlmFolder Write(IReadOnlyList<(string Name, byte[] Bytes)> files)
    {
        string folder;
        try
        {
            folder = Directory.CreateTempSubdirectory(Prefix).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"The temporary folder '{Path.GetTempPath()}' is not writable ({e.Message}). Loading a model zip writes its " +
                "VLM's graphs there for ONNX Runtime; point TMPDIR (TMP on Windows) at a writable folder.", e);
        }
        var extracted = new ExtractedVlmFolder(folder);
        Live[folder] = true;
        try
        {
            foreach (var (name, bytes) in files)
            {
                // CreateNew: never through a file or link that is already there.
                using var stream = new FileStream(Path.Combine(folder, name), FileMode.CreateNew, FileAccess.Write, FileShare.None);
                stream.Write(bytes);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            extracted.Dispose();
            throw new IOException($"Could not write the model's VLM files into the temporary folder '{folder}' ({e.Message}); " +
                "point TMPDIR (TMP on Windows) at a writable folder with free space.", e);
        }
        return extracted;
    }

    /// <summary>Deletes the folder and its files.</summary>
    public void Dispose()
    {
        if (Live.TryRemove(FolderPath, out _)) TryDelete(FolderPath);
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            System.Diagnostics.Trace.TraceWarning($"Could not delete the extracted VLM folder '{folder}': {e.Message}");
        }
    }
}
