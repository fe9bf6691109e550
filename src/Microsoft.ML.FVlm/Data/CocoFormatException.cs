namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// A COCO / LVIS JSON file does not have the expected shape. The message names the file and the
/// JSON path of the offending field, e.g. <c>"val.json: annotations[3].bbox: expected 4 numbers, got 3"</c>.
/// </summary>
public sealed class CocoFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file (or stream name) that was read.</param>
    /// <param name="field">The JSON path of the field, e.g. <c>annotations[3].bbox</c>.</param>
    /// <param name="problem">What was wrong and what was expected.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public CocoFormatException(string source, string field, string problem, Exception? inner = null)
        : base($"{source}: {field}: {problem}", inner)
    {
        SourceName = source;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file (or stream name) that was read.</summary>
    public string SourceName { get; }

    /// <summary>The JSON path of the offending field.</summary>
    public string Field { get; }

    /// <summary>What was wrong and what was expected.</summary>
    public string Problem { get; }
}
