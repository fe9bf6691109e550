namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>
/// Checks, before the work, that a command can write where it must: a run that only finds out when
/// it saves has lost everything it computed, and a failure to write should not read as bad input.
/// </summary>
internal static class WritablePath
{
    /// <summary>Creates <paramref name="folder"/> if needed (as the tool does for every output folder), then writes and deletes a file in it.</summary>
    /// <param name="folder">The folder the command will write to.</param>
    /// <param name="option">The option the message names.</param>
    /// <param name="contents">What the command writes there, for the message ("the model zip").</param>
    public static void EnsureOutputFolder(string folder, string option, string contents)
    {
        try
        {
            Directory.CreateDirectory(folder);
            Probe(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnwritablePathException($"{option}: cannot write {contents} to folder '{folder}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks that <paramref name="file"/> can be written: not a folder, its folder writable (created
    /// if needed), and, if it exists, open for writing (its contents are left as they are).
    /// </summary>
    public static void EnsureOutputFile(string file, string option, string contents)
    {
        if (Directory.Exists(file)) throw new ArgumentException($"{option}: '{file}' is a folder; give the path of {contents} to write.");
        EnsureOutputFolder(Path.GetDirectoryName(Path.GetFullPath(file))!, option, contents);
        if (!File.Exists(file)) return;
        try
        {
            using (new FileStream(file, FileMode.Open, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnwritablePathException($"{option}: cannot overwrite '{file}': {e.Message}", e);
        }
    }

    /// <summary>Checks that the temporary folder (ML.NET unpacks model zips there) can be written.</summary>
    /// <param name="folder">The temporary folder: <c>MLContext.TempFilePath</c>.</param>
    /// <param name="use">What the command needs it for, for the message.</param>
    public static void EnsureTemporaryFolder(string folder, string use)
    {
        try
        {
            Probe(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnwritablePathException($"the temporary folder '{Path.TrimEndingDirectorySeparator(folder)}' is not writable, and {use}: {e.Message} "
                + "Point TMPDIR (TEMP on Windows) at a writable folder.", e);
        }
    }

    private static void Probe(string folder)
    {
        using (File.Create(Path.Combine(folder, $".fvlm-write-probe-{Guid.NewGuid():N}"), 1, FileOptions.DeleteOnClose)) { }
    }
}

/// <summary>A folder or file the tool must write and cannot: a user error (exit code 1).</summary>
internal sealed class UnwritablePathException(string message, Exception inner) : IOException(message, inner);
