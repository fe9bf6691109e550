namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// The splits of the Shapes world. <see cref="TrainBase"/> and <see cref="TrainAll"/> render the same
/// images for the same seed and size (one stream, "train"), so the oracle differs from the base split
/// only in its annotations.
/// </summary>
public enum ShapesSplit
{
    /// <summary><c>train-base</c>: novel (rare) instances are rendered but never annotated, as in LVIS-base.</summary>
    TrainBase,

    /// <summary><c>train-all</c>: the same images with every sufficiently visible instance annotated (an oracle).</summary>
    TrainAll,

    /// <summary><c>val</c>: categories drawn uniformly, annotated exhaustively.</summary>
    Val,

    /// <summary><c>captions</c>: object crops and scenes with captions, all categories, for pretraining the small VLM.</summary>
    Captions,
}

/// <summary>The command-line and file names of <see cref="ShapesSplit"/> values.</summary>
public static class ShapesSplitNames
{
    private static readonly string[] s_names = ["train-base", "train-all", "val", "captions"];

    /// <summary>All names, in enum order.</summary>
    public static IReadOnlyList<string> All => s_names;

    /// <summary>"train-base", "train-all", "val" or "captions".</summary>
    public static string ToName(this ShapesSplit split) => s_names[(int)split];

    /// <summary>Parses a split name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Not one of the names.</exception>
    public static ShapesSplit Parse(string name)
    {
        int index = Array.FindIndex(s_names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        return index >= 0
            ? (ShapesSplit)index
            : throw new ArgumentException($"Split must be one of {string.Join(", ", s_names)} (got '{name}').");
    }

    /// <summary>True for the two training splits.</summary>
    public static bool IsTraining(this ShapesSplit split) => split is ShapesSplit.TrainBase or ShapesSplit.TrainAll;
}
