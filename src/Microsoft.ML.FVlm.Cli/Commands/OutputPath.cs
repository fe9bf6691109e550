namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>
/// Checks, before a long run, that its outputs can be written: a run that only finds out when it
/// saves loses everything it computed.
/// </summary>
internal static class OutputPath
{
    /// <summary>Creates <paramref name="folder"/> if needed (as the tool does for every output folder), then writes and deletes a file in it.</summary>
    /// <param name="folder">The folder the run will write to.</param>
    /// <param name="option">The option the message names.</param>
    /// <param name="contents">What the run writes there, for the message ("the model zip").</param>
    public static void EnsureWritableFolder(string folder, string option, string contents)
    {
        try
        {
            Directory.CreateDirectory(folder);
            using (File.Create(Path.Combine(folder, $".fvlm-write-probe-{Guid.NewGuid():N}"), 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnwritableOutputException($"{option}: cannot write {contents} to folder '{folder}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks that <paramref name="file"/> can be written: not a folder, its folder writable (created
    /// if needed), and, if it exists, open for writing (its contents are left as they are).
    /// </summary>
    public static void EnsureWritableFile(string file, string option, string contents)
    {
        if (Directory.Exists(file)) throw new ArgumentException($"{option}: '{file}' is a folder; give the path of {contents} to write.");
        EnsureWritableFolder(Path.GetDirectoryName(Path.GetFullPath(file))!, option, contents);
        if (!File.Exists(file)) return;
        try
        {
            using (new FileStream(file, FileMode.Open, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnwritableOutputException($"{option}: cannot overwrite '{file}': {e.Message}", e);
        }
    }
}

/// <summary>An output folder or file the tool cannot write: a user error (exit code 1).</summary>
internal sealed class UnwritableOutputException(string message, Exception inner) : IOException(message, inner);
