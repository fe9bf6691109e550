using System.Globalization;

namespace Microsoft.ML.FVlm.Inference;

/// <summary>Which boxes the frozen VLM pools its region embeddings on for its scores.</summary>
public enum VlmScoredBoxes
{
    /// <summary>The RPN's proposals, the boxes the detector head classified (F-VLM's reference).</summary>
    Proposals,

    /// <summary>The proposals refined by the box head's deltas, the boxes that are output.</summary>
    RefinedBoxes,
}

/// <summary>
/// How the detector's and the VLM's probabilities become one score, as F-VLM's
/// <c>ClipFasterRCNNHead</c> does it by default (<see cref="Reference"/>): the VLM scores the proposals,
/// the fused rows are renormalised, no objectness weight. Whatever the method, the output boxes and
/// masks are the refined boxes'.
/// </summary>
public sealed record FusionMethod
{
    /// <summary>F-VLM's reference: renormalised, VLM on the proposals, no objectness weight.</summary>
    public static FusionMethod Reference { get; } = new();

    /// <summary>This library's fusion before format 0x00010006 (and that of zips saved before it): not renormalised, VLM on the refined boxes.</summary>
    public static FusionMethod Unnormalised { get; } = new() { Renormalise = false, VlmBoxes = VlmScoredBoxes.RefinedBoxes };

    /// <summary>The four combinations of <see cref="Renormalise"/> and <see cref="VlmBoxes"/>, the reference first.</summary>
    public static IReadOnlyList<FusionMethod> All { get; } =
    [
        Reference,
        new() { Renormalise = true, VlmBoxes = VlmScoredBoxes.RefinedBoxes },
        new() { Renormalise = false, VlmBoxes = VlmScoredBoxes.Proposals },
        Unnormalised,
    ];

    /// <summary>Divide each box's fused probabilities ([background; classes]) by their sum.</summary>
    public bool Renormalise { get; init; } = true;

    /// <summary>The boxes the VLM scores.</summary>
    public VlmScoredBoxes VlmBoxes { get; init; } = VlmScoredBoxes.Proposals;

    /// <summary>
    /// F-VLM's <c>objectness_weight</c>: the fused probabilities times the proposal's RPN objectness
    /// probability to this power (0, the reference's default: off).
    /// </summary>
    public double ObjectnessWeight { get; init; }

    /// <summary>
    /// The method's name, as <c>fvlm evaluate-model --fusion</c> takes it: <c>renormalised</c> or
    /// <c>unnormalised</c>, <c>-proposals</c> or <c>-refined</c>, and <c>-objectness&lt;weight&gt;</c>
    /// when the weight is not 0 (e.g. <c>renormalised-proposals-objectness0.5</c>).
    /// </summary>
    public string Name => (Renormalise ? "renormalised" : "unnormalised") + (VlmBoxes == VlmScoredBoxes.Proposals ? "-proposals" : "-refined")
        + (ObjectnessWeight == 0 ? "" : "-objectness" + ObjectnessWeight.ToString("R", CultureInfo.InvariantCulture));

    public override string ToString() => Name;

    /// <summary>Reads a <see cref="Name"/>.</summary>
    /// <exception cref="FormatException">Names what was expected.</exception>
    public static FusionMethod Parse(string name)
    {
        string[] parts = name.Trim().ToLowerInvariant().Split('-');
        bool? renormalise = parts[0] switch { "renormalised" => true, "unnormalised" => false, _ => null };
        VlmScoredBoxes? boxes = parts.Length < 2 ? null : parts[1] switch { "proposals" => VlmScoredBoxes.Proposals, "refined" => VlmScoredBoxes.RefinedBoxes, _ => null };
        double weight = 0;
        bool weightRead = parts.Length == 2
            || parts.Length == 3 && parts[2].StartsWith("objectness", StringComparison.Ordinal)
               && double.TryParse(parts[2]["objectness".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out weight) && weight >= 0 && double.IsFinite(weight);
        if (renormalise is null || boxes is null || !weightRead)
            throw new FormatException($"'{name}' is not a fusion method: expected renormalised or unnormalised, then -proposals or -refined, "
                + "then optionally -objectness<weight> (e.g. renormalised-proposals, unnormalised-refined, renormalised-proposals-objectness0.5).");
        return new() { Renormalise = renormalise.Value, VlmBoxes = boxes.Value, ObjectnessWeight = weight };
    }
}
